"""End to end: the default gate on data other than the sample's, without
hand-set thresholds (pipeline/gate.py)."""

from __future__ import annotations

import dataclasses

import pytest

from mtrec.data import synthetic
from mtrec.pipeline import cli
from mtrec.pipeline.config import load_config
from mtrec.pipeline.runners.local import localize
from mtrec.pipeline.runs.results import read_run

pytestmark = pytest.mark.e2e  # runs the pipeline


def _run_sparse_reviews(tmp_path, *overrides: str) -> tuple:
    """(exit code, the run's metrics, its root) of `mtrec run` on a small shop's
    reviews (data/synthetic.py's sparse shape, scaled down: 2,000 ratings,
    40 items), trained at the largest learning rate the config allows (10)."""
    spec = dataclasses.replace(synthetic.SPARSE_REVIEWS_SHAPE, num_ratings=2_000, users=4_000)
    synthetic.write(spec, str(tmp_path / "data"), shards=1)
    root = tmp_path / "out"
    settings = [arg for value in ("model.learning_rate=10", *overrides) for arg in ("--set", value)]
    code = cli.main(["run", "--data-dir", str(tmp_path / "data" / "ratings"),
                     "--items-file", str(tmp_path / "data" / "items.csv"),
                     "--pipeline-root", str(root / "pipeline"),
                     "--serving-dir", str(root / "serving"), "--epochs", "3", *settings])
    config = localize(load_config(overrides={"pipeline_root": str(root / "pipeline")}))
    return code, {row.name: row.value for row in read_run(config.metadata_path).metrics}, root


def test_on_sparse_reviews_the_gate_caps_k_and_refuses_a_model_worse_than_the_mean(
        tmp_path, capsys):
    """Top-100 of 40 items is 1.0 for any model, so the gate compares with
    most-popular at K = 5, and the top-K table keeps the K that fit. Without
    held-out ratings to weigh its correction (model.rating_holdout_share = 0)
    the rating head at learning rate 10 predicts worse than the training
    mean, and the gate says so in words, with the numbers."""
    code, metrics, root = _run_sparse_reviews(tmp_path, "model.rating_holdout_share=0")
    output = " ".join(capsys.readouterr().out.split())  # undo the terminal's wrapping
    assert code == cli.EXIT_NOT_BLESSED, output
    assert ("Gated K: 5, not 100: the corpus has 40 items, and top-100 of a corpus that "
            "small is near 1 for any model") in output
    assert metrics["rmse"] > metrics["global_mean_rmse"]
    assert (f"rmse {metrics['rmse']:.4f} is worse than predicting the training mean "
            f"({metrics['global_mean_rmse']:.4f}) and than user + item biases "
            f"({metrics['bias_rmse']:.4f})") in output
    assert not list((root / "serving").rglob("saved_model.pb"))  # nothing pushed
    assert metrics["corpus_size"] == 40 and metrics["gated_k"] == 5
    assert metrics["lift_over_most_popular"] == pytest.approx(
        metrics["top_5_accuracy_seen_excluded"]
        / metrics["most_popular_top_5_accuracy_seen_excluded"] - 1)
    assert "top_5_accuracy" in metrics and "top_50_accuracy" not in metrics
    assert "top_10_accuracy" not in metrics  # 10 > 40 / 5


def test_on_sparse_reviews_the_weighted_rating_head_is_no_worse_than_the_biases(tmp_path):
    """The same overfitted head with its correction weighed on held-out
    training ratings (the default): where the correction does not help, the
    head falls back to the user + item biases (trainer_module/rating_blend.py)."""
    _, metrics, _ = _run_sparse_reviews(tmp_path)
    assert metrics["rmse"] <= metrics["bias_rmse"] + 1e-4
    assert metrics["rmse"] < metrics["global_mean_rmse"]
