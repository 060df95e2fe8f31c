"""Generates the embedded sample dataset (`data/sample/`) with planted structure.

The sample must be small (a few thousand ratings, so the whole pipeline runs in
minutes) yet hard enough that the gate means something: a model that learns
the planted user/item factors clearly beats "most popular", and a model that
learns nothing does not. It is synthetic because MovieLens may not be
redistributed.

Planted structure:
  * every user u and item i has a latent factor (dimension `factors`);
  * item popularity follows a power law (Zipf exponent `popularity_exponent`);
  * a user picks items with probability proportional to
        popularity(i) * exp(affinity * <u, i>),
    so who-interacts-with-what depends on both popularity and taste;
  * the rating is  2.7 + user bias + item bias + taste_weight * <u, i> / std(<u, i>) + noise,
    rounded and clipped to 1..5, so the explicit signal depends on both ids.

Usage:  python -m mtrec.data.generate_sample [--output-dir data/sample] [--seed 7]
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import pathlib

import numpy as np

_ADJECTIVES = (
    "Silent", "Crimson", "Last", "Hidden", "Electric", "Golden", "Broken",
    "Midnight", "Distant", "Frozen", "Wild", "Secret", "Lost", "Bright",
    "Hollow", "Iron", "Paper", "Velvet", "Restless", "Northern",
)
_NOUNS = (
    "Harbor", "Garden", "Frontier", "Signal", "Empire", "River", "Letters",
    "Machine", "Summer", "Orchard", "Station", "Kingdom", "Voyage", "Mirror",
    "Circus", "Desert", "Lantern", "Island", "Archive", "Parade",
)
# One genre per latent dimension: an item's genres are its strongest factors.
_GENRES = ("Drama", "Comedy", "Action", "Romance", "Sci-Fi", "Documentary")


@dataclasses.dataclass(frozen=True)
class SampleSpec:
    """Size and strength of the planted structure."""

    num_users: int = 600
    num_items: int = 800
    factors: int = len(_GENRES)
    mean_ratings_per_user: int = 16
    min_ratings_per_user: int = 5
    popularity_exponent: float = 0.9
    affinity: float = 5.0
    taste_weight: float = 0.8
    noise: float = 0.45
    seed: int = 7


def generate(spec: SampleSpec) -> tuple[list[dict], list[dict]]:
    """Returns (ratings rows, item rows) drawn from the planted model."""
    rng = np.random.default_rng(spec.seed)
    users = rng.normal(0.0, 1.0, (spec.num_users, spec.factors)) / np.sqrt(spec.factors)
    items = rng.normal(0.0, 1.0, (spec.num_items, spec.factors)) / np.sqrt(spec.factors)
    user_bias = rng.normal(0.0, 0.35, spec.num_users)
    item_bias = rng.normal(0.0, 0.35, spec.num_items)
    popularity = 1.0 / np.arange(1, spec.num_items + 1) ** spec.popularity_exponent
    rng.shuffle(popularity)  # popularity is unrelated to the item's index

    affinity = users @ items.T  # [num_users, num_items]
    affinity_scale = affinity.std()
    counts = np.maximum(
        spec.min_ratings_per_user,
        rng.poisson(spec.mean_ratings_per_user, spec.num_users),
    )
    ratings: list[dict] = []
    timestamp = 1_600_000_000
    for user in range(spec.num_users):
        weights = popularity * np.exp(spec.affinity * affinity[user])
        chosen = rng.choice(spec.num_items, size=counts[user], replace=False,
                            p=weights / weights.sum())
        for item in chosen:
            value = (2.7 + user_bias[user] + item_bias[item]
                     + spec.taste_weight * affinity[user, item] / affinity_scale
                     + rng.normal(0.0, spec.noise))
            timestamp += int(rng.integers(30, 3600))
            ratings.append({
                "user_id": f"u{user + 1:04d}",
                "item_id": f"i{item + 1:04d}",
                "rating": int(np.clip(np.rint(value), 1, 5)),
                "timestamp": timestamp,
            })
    rng.shuffle(ratings)

    item_rows = []
    for item in range(spec.num_items):
        strongest = np.argsort(-items[item])[:2]
        item_rows.append({
            "item_id": f"i{item + 1:04d}",
            "title": f"{_ADJECTIVES[item % len(_ADJECTIVES)]} "
                     f"{_NOUNS[(item // len(_ADJECTIVES)) % len(_NOUNS)]} "
                     f"({1960 + item % 60})",
            "genres": "|".join(_GENRES[g] for g in sorted(strongest)),
        })
    return ratings, item_rows


def write_csv(path: pathlib.Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output-dir", type=pathlib.Path,
                        default=pathlib.Path(__file__).parent / "sample")
    parser.add_argument("--seed", type=int, default=SampleSpec.seed)
    args = parser.parse_args(argv)
    ratings, items = generate(dataclasses.replace(SampleSpec(), seed=args.seed))
    write_csv(args.output_dir / "ratings" / "ratings.csv", ratings)
    write_csv(args.output_dir / "items.csv", items)
    print(f"wrote {len(ratings)} ratings and {len(items)} items to {args.output_dir}")


if __name__ == "__main__":
    main()
