"""The scale and overhead benchmarks' parts: the synthetic generator, the
measurement of a child process, the tables, the plain TFRS script and the
command-line checks. The benchmarks themselves are commands, not tests."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from mtrec.benchmarks import overhead, pipeline_timing, scale, tfrs_script
from mtrec.data import synthetic
from mtrec.pipeline import cli
from mtrec.pipeline.runs.results import MODEL_RUN, RunResult


def test_synthetic_ratings_are_exact_unique_and_power_law():
    spec = synthetic.ScaledSpec(50_000)
    drawn = synthetic.generate(spec)
    assert drawn.user.size == 50_000
    assert np.unique(drawn.user * spec.num_items + drawn.item).size == 50_000
    assert (spec.num_users, spec.num_items) == (1_000, 500)
    assert set(np.unique(drawn.rating)) <= {1, 2, 3, 4, 5}
    counts = np.sort(np.bincount(drawn.item, minlength=spec.num_items))[::-1]
    assert counts[0] > 10 * counts[spec.num_items // 2]  # a long tail
    again = synthetic.generate(spec)
    assert np.array_equal(again.item, drawn.item) and np.array_equal(again.rating, drawn.rating)


def test_a_given_shape_sets_the_users_and_items():
    spec = synthetic.ScaledSpec(10_000, users=300, items=200)
    drawn = synthetic.generate(spec)
    assert (spec.num_users, spec.num_items) == (300, 200)
    assert drawn.user.max() < 300 and drawn.item.max() < 200
    assert np.unique(drawn.user * 200 + drawn.item).size == 10_000
    shape = scale.parse_size("ml-25m")
    assert (shape.num_ratings, shape.num_users, shape.num_items) == (25_000_095, 162_541, 59_047)


def test_synthetic_write_leaves_complete_csvs(tmp_path):
    ratings_dir = synthetic.write(synthetic.ScaledSpec(2_000), str(tmp_path))
    lines = (tmp_path / "ratings" / "ratings.csv").read_text().splitlines()
    assert ratings_dir == str(tmp_path / "ratings")
    assert lines[0] == "user_id,item_id,rating,timestamp" and len(lines) == 2_001
    assert len((tmp_path / "items.csv").read_text().splitlines()) == 101
    assert not list(tmp_path.rglob("*.partial"))


def test_synthetic_shards_hold_every_row_once(tmp_path):
    synthetic.write(synthetic.ScaledSpec(2_000), str(tmp_path / "one"))
    synthetic.write(synthetic.ScaledSpec(2_000), str(tmp_path / "three"), shards=3)
    shards = sorted((tmp_path / "three" / "ratings").glob("*.csv"))
    assert [p.name for p in shards] == [f"ratings-0000{i}-of-00003.csv" for i in range(3)]
    rows = [line for path in shards for line in path.read_text().splitlines()[1:]]
    single = (tmp_path / "one" / "ratings" / "ratings.csv").read_text().splitlines()[1:]
    assert rows == single
    assert all(p.read_text().startswith("user_id,item_id,rating,timestamp\n") for p in shards)


def test_synthetic_refuses_absurd_sizes():
    with pytest.raises(ValueError, match="num_ratings must be in"):
        synthetic.generate(synthetic.ScaledSpec(10))


_CHILD = textwrap.dedent("""
    import sys, time
    print("[ 0.0s] ▶ Loader", flush=True)
    block = bytearray(200 * 1024 * 1024)  # touched, so it is resident
    for i in range(0, len(block), 4096):
        block[i] = 1
    time.sleep(1.0)
    print("[ 1.2s] ✓ Loader (1.2s)", flush=True)
    del block
    print("[ 1.2s] ▶ Sleeper", flush=True)
    time.sleep(float(sys.argv[1]))
    print("[ 9.9s] ✓ Sleeper (0.5s)", flush=True)
""")


def test_timed_run_charges_time_and_memory_to_the_running_component(tmp_path):
    child = tmp_path / "child.py"
    child.write_text(_CHILD)
    lines = []
    timed = pipeline_timing.timed_run([sys.executable, str(child), "0.5"], 60, lines.append)
    assert timed.exit_code == 0
    assert timed.component_seconds == {"Loader": 1.2, "Sleeper": 0.5}
    assert timed.component_peak_bytes["Loader"] > 200 * 1024 * 1024
    assert timed.component_peak_bytes["Sleeper"] < timed.component_peak_bytes["Loader"]
    assert timed.peak_bytes == timed.component_peak_bytes["Loader"]
    assert lines[0] == "[ 0.0s] ▶ Loader" and timed.wall_seconds >= 1.5


def test_timed_run_stops_a_run_at_the_time_limit(tmp_path):
    child = tmp_path / "child.py"
    child.write_text(_CHILD)
    timed = pipeline_timing.timed_run([sys.executable, str(child), "600"], 3, lambda line: None)
    assert timed.exit_code is None and timed.wall_seconds < 30
    assert "Sleeper" not in timed.component_seconds


def _result(size, wall, components, exit_code=0):
    run = pipeline_timing.TimedRun(wall, exit_code, components,
                                   {name: 2 * 1024 ** 3 for name in components}, 2 * 1024 ** 3, [])
    return scale.SizeResult(synthetic.ScaledSpec(size), run, {"rmse": 0.9})


def test_scale_tables_show_cost_per_million_and_growth():
    results = [_result(1_000_000, 600, {"Trainer": 300.0}),
               _result(10_000_000, 9_000, {"Trainer": 4_000.0, "Evaluator": 2_000.0})]
    summary = scale.summary_table(results)
    assert ("| 10,000,000 | 200,000 | 100,000 | in memory | – | 9,000 | 900 | 2.00 | – | – | "
            "0.900 | pushed |" in summary)
    components = scale.component_table(results)
    assert "| Trainer | 300.0 | 300.0 | 2.00 | 4,000.0 | 400.0 | 2.00 |" in components
    assert "| Evaluator | – | – | – | 2,000.0 | 200.0 | 2.00 |" in components
    assert "| outside the components (imports, input checks, summary) | 300.0 | 300.0 | – | " \
           "3,000.0 | 300.0 | – |" in components
    assert "Growth (in memory): " in scale.growth_line(results)
    assert "1.50× (goal ≤ 1.3×)" in scale.growth_line(results)


def test_the_trainer_phase_table_reads_training_history_and_shows_every_phase(tmp_path):
    (tmp_path / "training_history.json").write_text(json.dumps(
        {"epochs": 1, "phase_seconds": {"fit": 120.5, "save": 3.0}}))

    def run_with_model_run(uri):
        return RunResult("run", [], [], True, [], None, artifact_uris={MODEL_RUN: uri})

    recorded = _result(10_000_000, 900, {"Trainer": 130.0})
    recorded.trainer_phases = run_with_model_run(str(tmp_path)).training_history()[
        "phase_seconds"]
    assert recorded.trainer_phases == {"fit": 120.5, "save": 3.0}
    older = _result(1_000_000, 90, {"Trainer": 10.0})  # a Trainer that recorded none
    assert run_with_model_run(str(tmp_path / "missing")).training_history() == {}
    assert scale.trainer_phase_table([older]) == ""
    table = scale.trainer_phase_table([older, recorded])
    assert table.splitlines() == ["| Trainer phase | 10,000,000, in memory: s |",
                                  "| --- | ---: |", "| fit | 120.5 |", "| save | 3.0 |"]
    assert table in scale.section([older, recorded], {})


def test_scale_marks_a_run_stopped_at_the_limit():
    results = [_result(1_000_000, 600, {}), _result(10_000_000, 7_200, {}, exit_code=None)]
    assert "stopped at the time limit (120 min)" in scale.summary_table(results)
    assert "fewer than two completed sizes" in scale.growth_line(results)


def test_plain_tfrs_script_fits_and_evaluates(shared_data, tmp_path):
    """The overhead benchmark's baseline, on the first 5,000 ML-100K rows."""
    rows = (shared_data / "ml-100k" / "u.data").read_text().splitlines()[:5_000]
    (tmp_path / "u.data").write_text("\n".join(rows) + "\n")
    finished = subprocess.run([sys.executable, "-m", "mtrec.benchmarks.tfrs_script",
                               str(tmp_path / "u.data")], capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr[-2000:]
    result = json.loads(finished.stdout.strip().splitlines()[-1])
    assert result["train_rows"] + result["held_out_rows"] == 5_000
    assert 0.15 < result["held_out_rows"] / 5_000 < 0.25
    assert 0 < result["top_100_accuracy"] <= 1 and 0.5 < result["rmse"] < 3


def test_plain_tfrs_script_reads_a_folder_of_ratings_csvs(tmp_path):
    """The reference `mtrec bench scale` runs on the sizes' own synthetic shards."""
    synthetic.write(synthetic.ScaledSpec(20_000), str(tmp_path), shards=3)
    users, items, ratings = tfrs_script.read_ratings_csvs(str(tmp_path / "ratings"))
    assert len(users) == len(items) == len(ratings) == 20_000
    assert users.dtype.kind == "U" and ratings.dtype == np.float32
    finished = subprocess.run([sys.executable, "-m", "mtrec.benchmarks.tfrs_script",
                               str(tmp_path / "ratings")], capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr[-2000:]
    result = json.loads(finished.stdout.strip().splitlines()[-1])
    assert result["train_rows"] + result["held_out_rows"] == 20_000
    table = scale.reference_table([scale.ReferenceResult(synthetic.ScaledSpec(20_000),
                                                         {**result, "seconds": 10.0})])
    assert f"| 20,000 | {result['train_rows']:,} / {result['held_out_rows']:,} | 10 | 500 | " \
        in table


def test_plain_tfrs_script_indexes_ids_unseen_in_training_past_the_vocabulary():
    vocabulary = np.array(["a", "c", "e"])
    assert tfrs_script.vocabulary_index(np.array(["c", "a", "b", "z", "e"]), vocabulary
                                        ).tolist() == [1, 0, 3, 3, 2]


@pytest.mark.parametrize("argv,message", [
    (["bench", "scale", "--sizes", "10"], "each size must be in 1000..100000000"),
    (["bench", "scale", "--sizes", "1e6"], "--sizes takes whole numbers of ratings or ml-25m"),
    (["bench", "scale", "--time-limit-minutes", "0"], "--time-limit-minutes must be in"),
    (["bench", "scale", "--set", "model.epochs=-1"], "model.epochs"),
    (["bench", "overhead", "--shared-data", "/nonexistent"], "u.data: not found"),
])
def test_bench_command_errors(capsys, argv, message):
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


def test_overhead_section_gives_the_ratio_and_each_runs_components():
    def run(wall, components):
        return pipeline_timing.TimedRun(wall, 0, components, {}, 0, [])

    fresh = run(300.0, {"Trainer": 150.0, "Evaluator": 60.0})
    again = run(12.0, {"Trainer": 0.0, "Evaluator": 0.0})
    plain = {"seconds": 100.0, "top_100_accuracy": 0.24, "rmse": 1.08, "train_rows": 80_000,
             "held_out_rows": 20_000}
    text = overhead.section(fresh, again, plain, {"top_100_accuracy": 0.39, "rmse": 0.9})
    assert "**3.00×** (goal ≤ 1.2)" in text and "**12.0 s** (goal ≤ 15 s)" in text
    assert "| Evaluator | 60.0 | 0.0 |" in text
    assert f"| {pipeline_timing.BETWEEN} | 90.0 | 12.0 |" in text
