"""Synthetic ratings at any size, for the scale benchmark (`mtrec bench scale`).

The embedded sample's generator (`generate_sample.py`) draws every user's items
from a users x items probability matrix: fine for 600 x 800, impossible for
200,000 x 100,000. This one keeps the same planted structure, vectorised:

  * every user and item has a latent factor (one dimension per genre); an
    item's genre is its strongest factor;
  * item popularity follows a power law (Zipf exponent 0.9) within and across
    genres;
  * a user picks a genre with probability softmax(affinity * user factor),
    then an item of that genre by popularity, so who-interacts-with-what
    depends on both popularity and taste;
  * the rating is 2.7 + user bias + item bias + taste + noise, rounded and
    clipped to 1..5, as in the sample.

Sizes follow MovieLens's shape: about 50 ratings per user and 100 per item
(~100,000 items at 10M ratings). (user, item) pairs are unique, so the
pipeline's duplicate policy drops nothing and the row count is exact.
Memory stays at a few hundred bytes per rating.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
from typing import Iterator

import numpy as np

from mtrec.data import canonical

GENRES = ("Drama", "Comedy", "Action", "Romance", "Sci-Fi", "Documentary")
_WRITE_CHUNK = 1_000_000
_MAX_DRAW_ROUNDS = 20


@dataclasses.dataclass(frozen=True)
class ScaledSpec:
    """How many ratings, and the planted structure's strength."""

    num_ratings: int
    ratings_per_user: int = 50
    ratings_per_item: int = 100
    popularity_exponent: float = 0.9
    affinity: float = 5.0
    taste_weight: float = 0.8
    noise: float = 0.45
    seed: int = 7
    users: int = 0  # 0: num_ratings / ratings_per_user
    items: int = 0  # 0: num_ratings / ratings_per_item

    @property
    def num_users(self) -> int:
        return self.users or max(100, self.num_ratings // self.ratings_per_user)

    @property
    def num_items(self) -> int:
        return self.items or max(100, self.num_ratings // self.ratings_per_item)


# MovieLens 25M's shape: its users, items and ratings (about 154 ratings per
# user, 423 per item).
MOVIELENS_25M_SHAPE = ScaledSpec(25_000_095, users=162_541, items=59_047)

# A small shop's product reviews (issue 20): 40 items, and twice as many user
# ids as ratings, so that about 3 in 4 of the users who rate rate once. On
# such data a user's own bias cannot be learnt, and a rating model that
# trusts it does worse than the training mean (docs/benchmarks.md).
SPARSE_REVIEWS_SHAPE = ScaledSpec(10_000, users=20_000, items=40)


def _validate(spec: ScaledSpec) -> None:
    if not 1_000 <= spec.num_ratings <= 100_000_000:
        raise ValueError(f"num_ratings must be in 1,000..100,000,000, got {spec.num_ratings:,}")
    if spec.num_ratings > spec.num_users * spec.num_items // 4:
        raise ValueError("too few users x items for that many unique ratings")


@dataclasses.dataclass(frozen=True)
class Ratings:
    """One row per rating (shuffled, (user, item) pairs unique), and each item's genre."""

    user: np.ndarray
    item: np.ndarray
    rating: np.ndarray
    timestamp: np.ndarray
    item_genre: np.ndarray


def generate(spec: ScaledSpec) -> Ratings:
    """Draws the ratings from the planted model."""
    _validate(spec)
    rng = np.random.default_rng(spec.seed)
    factors = len(GENRES)
    users = rng.normal(0.0, 1.0, (spec.num_users, factors)) / np.sqrt(factors)
    items = rng.normal(0.0, 1.0, (spec.num_items, factors)) / np.sqrt(factors)
    user_bias = rng.normal(0.0, 0.35, spec.num_users).astype(np.float32)
    item_bias = rng.normal(0.0, 0.35, spec.num_items).astype(np.float32)
    popularity = 1.0 / np.arange(1, spec.num_items + 1) ** spec.popularity_exponent
    rng.shuffle(popularity)  # popularity is unrelated to the item's index
    item_genre = np.argmax(items, axis=1)

    # Per genre: its items, and the cumulative popularity to sample them by.
    genre_items = [np.flatnonzero(item_genre == g) for g in range(factors)]
    genre_cdf = [np.cumsum(popularity[members]) / popularity[members].sum()
                 for members in genre_items]
    genre_mass = np.array([popularity[members].sum() for members in genre_items])
    taste = np.exp(spec.affinity * users) * genre_mass  # [users, genres]
    taste_cdf = np.cumsum(taste, axis=1) / taste.sum(axis=1, keepdims=True)

    # Draw until there are enough distinct (user, item) pairs (popular items
    # repeat within a user), then keep exactly num_ratings in random order.
    codes = np.empty(0, dtype=np.int64)
    for _ in range(_MAX_DRAW_ROUNDS):
        draws = int((spec.num_ratings - codes.size) * 1.6) + 1000
        user = rng.integers(0, spec.num_users, draws)
        genre = np.minimum((taste_cdf[user] < rng.random(draws)[:, None]).sum(axis=1),
                           factors - 1)
        item = np.empty(draws, dtype=np.int64)
        for g in range(factors):
            rows = np.flatnonzero(genre == g)
            picks = np.searchsorted(genre_cdf[g], rng.random(rows.size))
            item[rows] = genre_items[g][np.minimum(picks, genre_items[g].size - 1)]
        codes = np.unique(np.concatenate([codes, user * spec.num_items + item]))
        if codes.size >= spec.num_ratings:
            break
    else:
        raise ValueError(f"only {codes.size:,} distinct (user, item) pairs drawn for "
                         f"{spec.num_ratings:,} ratings")
    codes = rng.permutation(codes)[:spec.num_ratings]
    user, item = codes // spec.num_items, codes % spec.num_items

    dot = np.einsum("ij,ij->i", users[user], items[item]).astype(np.float32)
    value = (2.7 + user_bias[user] + item_bias[item] + spec.taste_weight * dot / dot.std()
             + rng.normal(0.0, spec.noise, user.size).astype(np.float32))
    rating = np.clip(np.rint(value), 1, 5).astype(np.int8)
    timestamp = 1_600_000_000 + np.cumsum(rng.integers(1, 60, user.size))
    return Ratings(user, item, rating, timestamp, item_genre)


def _lines(user, item, rating, timestamp) -> Iterator[str]:
    for start in range(0, user.size, _WRITE_CHUNK):
        end = start + _WRITE_CHUNK
        yield "".join(
            f"u{u:07d},i{i:07d},{r},{t}\n" for u, i, r, t in zip(
                user[start:end].tolist(), item[start:end].tolist(),
                rating[start:end].tolist(), timestamp[start:end].tolist()))


def write(spec: ScaledSpec, output_dir: str, shards: int = 1) -> str:
    """Writes the ratings under output_dir/ratings/ and output_dir/items.csv; returns
    the ratings folder. One file, ratings.csv, or `shards` files of consecutive
    rows (ratings-00000-of-00008.csv, ...), which runners can read in parallel.

    Files are written under temporary names and renamed, so an interrupted
    run never leaves a truncated CSV that a later run would take as complete.
    """
    names = canonical.ratings_file_names(shards)
    drawn = generate(spec)
    ratings_dir = pathlib.Path(output_dir) / "ratings"
    ratings_dir.mkdir(parents=True, exist_ok=True)
    bounds = np.linspace(0, drawn.user.size, shards + 1).astype(np.int64)
    for name, start, end in zip(names, bounds[:-1], bounds[1:]):
        partial = ratings_dir / f"{name}.partial"
        with partial.open("w", encoding="utf-8") as handle:
            handle.write("user_id,item_id,rating,timestamp\n")
            for chunk in _lines(drawn.user[start:end], drawn.item[start:end],
                                drawn.rating[start:end], drawn.timestamp[start:end]):
                handle.write(chunk)
    items_partial = pathlib.Path(output_dir) / "items.csv.partial"
    with items_partial.open("w", encoding="utf-8") as handle:
        handle.write("item_id,title,genres\n")
        handle.writelines(f"i{i:07d},Item {i},{GENRES[genre]}\n"
                          for i, genre in enumerate(drawn.item_genre.tolist()))
    os.replace(items_partial, pathlib.Path(output_dir) / "items.csv")
    for name in names:
        os.replace(ratings_dir / f"{name}.partial", ratings_dir / name)
    return str(ratings_dir)
