"""The quality benchmark's metrics and baselines, on cases small enough to check by hand.

That ranking.py agrees with the Evaluator (TFMA) on a real exported model is
checked in test_pipeline_e2e.py, on the pipeline run made there.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mtrec.benchmarks import baselines, ranking
from mtrec.benchmarks.quality import ModelResult, markdown_table, plot_tradeoff
from mtrec.benchmarks.ranking import Interactions
from mtrec.pipeline import cli


def _interactions(pairs, ratings=None) -> Interactions:
    users, items = (np.array(column, dtype=np.int64) for column in zip(*pairs))
    ratings = np.full(len(pairs), np.nan) if ratings is None else np.asarray(ratings, float)
    return Interactions(users, items, ratings)


# 2 users, 4 items. User 0 saw item 0; user 1 saw items 1 and 2.
TRAIN = _interactions([(0, 0), (1, 1), (1, 2)])
SCORES = np.array([[4.0, 3.0, 2.0, 1.0],   # user 0
                   [1.0, 4.0, 3.0, 2.0],   # user 1
                   [0.0, 0.0, 0.0, 0.0]])  # an unseen user


def _scorer(users):
    return SCORES[users]


def test_ranks_count_items_strictly_above_with_and_without_seen_items():
    # user 0's held-out item 2 has items 0 and 1 above it; item 0 is seen.
    # user 1's held-out item 3 has items 1 and 2 above it, both seen.
    held_out = _interactions([(0, 2), (1, 3)])
    metrics = ranking.ranking_metrics(_scorer, TRAIN, held_out, num_users=2, num_items=4,
                                      top_k=(1, 2, 3))
    assert metrics["top_1_accuracy"] == 0.0
    assert metrics["top_2_accuracy"] == 0.0
    assert metrics["top_3_accuracy"] == 1.0
    assert metrics["top_1_accuracy_seen_excluded"] == 0.5  # user 1: nothing unseen above item 3
    assert metrics["top_2_accuracy_seen_excluded"] == 1.0


def test_an_item_outside_the_corpus_is_always_a_miss():
    held_out = _interactions([(0, 4)])  # index num_items: not in training
    metrics = ranking.ranking_metrics(_scorer, TRAIN, held_out, num_users=2, num_items=4,
                                      top_k=(4,))
    assert metrics["top_4_accuracy"] == 0.0
    assert metrics["recall_at_10"] == 0.0


def test_recall_and_ndcg_per_user_with_seen_items_removed():
    # User 0's unseen ranking is 1, 2, 3; held out: items 2 and 3.
    # Top 2 = [1, 2]: one hit at rank 2 -> recall 1/2, NDCG (1/log2 3) / (1 + 1/log2 3).
    # User 1's unseen ranking is 3, 0; held out: item 0 -> hit at rank 2 of top 2.
    held_out = _interactions([(0, 2), (0, 3), (1, 0)])
    metrics = ranking.ranking_metrics(_scorer, TRAIN, held_out, num_users=2, num_items=4,
                                      top_k=(), per_user_k=2)
    user0_ndcg = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    user1_ndcg = (1 / math.log2(3)) / 1.0
    assert metrics["recall_at_2"] == pytest.approx((0.5 + 1.0) / 2)
    assert metrics["ndcg_at_2"] == pytest.approx((user0_ndcg + user1_ndcg) / 2)


def test_rmse_skips_interactions_without_a_rating():
    held_out = _interactions([(0, 1), (1, 0), (1, 3)], ratings=[4.0, np.nan, 2.0])
    assert ranking.rmse(np.array([3.0, 100.0, 2.0]), held_out) == pytest.approx(math.sqrt(0.5))


def test_biases_recover_additive_ratings():
    rng = np.random.default_rng(0)
    user_effect, item_effect = rng.normal(size=30), rng.normal(size=20)
    pairs = [(u, i) for u in range(30) for i in range(20)]
    ratings = [3.0 + user_effect[u] + item_effect[i] for u, i in pairs]
    data = _interactions(pairs, ratings)
    predicted = baselines.biases(data, data, num_users=30, num_items=20, regularization=0.0,
                                 iterations=50)
    assert ranking.rmse(predicted, data) < 1e-6


def test_most_popular_ranks_by_training_count():
    train = _interactions([(0, 2), (1, 2), (2, 2), (0, 1), (1, 1), (2, 0)])
    scores = baselines.most_popular(train, num_items=3)(np.array([0, 1]))
    assert list(np.argsort(-scores[0])) == [2, 1, 0]
    assert scores.shape == (2, 3)


def test_ease_scores_items_that_co_occur_higher_and_never_its_own_item():
    # Items 0 and 1 always co-occur; item 2 goes with item 3.
    train = _interactions([(0, 0), (0, 1), (1, 0), (1, 1), (2, 2), (2, 3), (3, 0)])
    scores = baselines.ease(train, num_users=4, num_items=4, regularization=1.0)(np.array([3]))
    assert np.argmax(scores[0]) == 1  # user 3 saw item 0: item 1 comes first
    cold = baselines.ease(train, num_users=4, num_items=4)(np.array([4]))  # unseen user
    assert list(np.argsort(-cold[0], kind="stable")[:2]) == [0, 1]  # popularity


def test_table_shows_a_dash_for_metrics_a_model_does_not_have():
    table = markdown_table([ModelResult("biases", {"rmse": 0.95}, 1.2)])
    assert table.splitlines()[-1] == "| biases | – | – | – | – | – | 0.950 | 1 |"


@pytest.mark.parametrize("argv, message", [
    (["bench", "quality", "--datasets", "netflix"], "--datasets: unknown netflix"),
    (["bench", "quality", "--weights", "1:x"], "--weights takes retrieval:rating pairs"),
    (["bench", "quality", "--weights", "0:0"], "0:0 is not a retrieval:rating pair"),
    (["bench", "quality", "--shared-data", "/nonexistent"], "/nonexistent/ml-100k: not found"),
])
def test_bad_benchmark_options_exit_2_naming_the_option(argv, message, capsys):
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


def test_tradeoff_plot_draws_every_point_and_reference(tmp_path):
    ours = [ModelResult("mtrec rating-only", {"top_100_accuracy_seen_excluded": 0.3, "rmse": 0.9},
                        1.0, (0.0, 1.0)),
            ModelResult("mtrec joint (1, 0.3)", {"top_100_accuracy_seen_excluded": 0.6,
                                                 "rmse": 0.91}, 1.0, (1.0, 0.3)),
            ModelResult("mtrec retrieval-only", {"top_100_accuracy_seen_excluded": 0.62}, 1.0,
                        (1.0, 0.0))]
    references = [ModelResult("global mean", {"rmse": 1.1}, 0.0),
                  ModelResult("biases", {"rmse": 0.95}, 0.0),
                  ModelResult("most popular", {"top_100_accuracy_seen_excluded": 0.41}, 0.0),
                  ModelResult("EASE", {"top_100_accuracy_seen_excluded": 0.62}, 0.0),
                  ModelResult("TFRS", {"top_100_accuracy_seen_excluded": 0.34, "rmse": 1.08}, 0.0)]
    path = tmp_path / "plot.png"
    plot_tradeoff("test", ours, references, str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


def test_sparse_popularity_ranks_match_the_dense_ranking_definition():
    from mtrec.benchmarks import popularity

    rng = np.random.default_rng(3)
    num_users, num_items = 40, 30
    pairs = {(int(u), int(i)) for u, i in zip(rng.integers(0, num_users, 600),
                                               np.minimum(rng.zipf(1.6, 600) - 1, num_items - 1))}
    pairs = sorted(pairs)
    held = set(pairs[::5])
    train = _interactions([p for p in pairs if p not in held])
    # Held-out pairs, plus an unseen user (index num_users) and an unseen item (num_items).
    held_out = _interactions(sorted(held) + [(num_users, 2), (3, num_items)])
    dense = ranking.ranking_metrics(baselines.most_popular(train, num_items), train, held_out,
                                    num_users, num_items, top_k=(1, 5, 10))
    ranks = popularity.seen_excluded_ranks(train.users, train.items, held_out.users,
                                           held_out.items, num_items)
    for k in (1, 5, 10):
        assert math.isclose(float(np.mean(ranks < k)),
                            dense[f"top_{k}_accuracy_seen_excluded"])
    assert ranks[-1] == num_items  # an item unseen in training never ranks
