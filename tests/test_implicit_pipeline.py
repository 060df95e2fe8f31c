"""Implicit-only data (no rating column) through the whole pipeline.

The sample's clicks, prepared by the generic CSV reader without their
ratings: the Trainer trains retrieval alone, the Evaluator computes and gates
top-K only (no RMSE appears anywhere), and the split is recorded with the run.
(The sample's users are active in separate time windows, so a time split
holds out mostly new users; tests/test_split_example_gen.py checks that split
on MovieLens.)
"""

import os

import pytest

from mtrec.data import generic_csv
from mtrec.pipeline import cli
from mtrec.pipeline.config import SAMPLE_DIR, load_config
from mtrec.pipeline.runs.results import read_run

pytestmark = pytest.mark.e2e  # runs the pipeline


def test_implicit_data_trains_retrieval_and_gates_on_top_k_only(tmp_path, capsys):
    counts = generic_csv.prepare(
        str(SAMPLE_DIR / "ratings"), str(tmp_path / "clicks"),
        generic_csv.ColumnMapping(user="user_id", item="item_id", timestamp="timestamp"))
    assert not counts.has_ratings and counts.ratings == 9640
    overrides = {"pipeline_root": str(tmp_path / "pipeline"),
                 "serving.serving_dir": str(tmp_path / "serving")}
    code = cli.main(["run", "--data-dir", str(tmp_path / "clicks" / "ratings"),
                     "--items-file", str(SAMPLE_DIR / "items.csv"),
                     "--set", "data.has_ratings=false",
                     *[arg for key, value in overrides.items() for arg in ("--set", f"{key}='{value}'")]])
    captured = capsys.readouterr()
    output = captured.out
    assert code == 0, output + captured.err

    result = read_run(load_config(overrides=overrides).metadata_path)
    names = {row.name for row in result.metrics}
    assert "top_100_accuracy_seen_excluded" in names and "rmse" not in names
    # A first run has no baseline, so only the lead over most-popular is gated;
    # nothing about ratings is.
    gated = [row.name for row in result.metrics if row.threshold]
    assert gated == ["lift_over_most_popular"]
    assert not names & {"bias_rmse", "global_mean_rmse", "rmse_gain_over_biases"}
    assert result.blessed is True and os.path.isdir(result.pushed_path)
    assert result.split["method"] == "random" and result.split["seed"] == 42
    assert "Split: random: 20% held out (seed 42)" in output
