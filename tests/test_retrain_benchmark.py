"""`mtrec bench retrain`'s measurement code: the spans it cuts, the next-span split it
scores on, and its table and goal numbers (never its speed)."""

import csv

import numpy as np
import pytest

from mtrec.benchmarks import retrain
from mtrec.benchmarks.retrain import SpanRun
from mtrec.pipeline import cli


def _ratings(path, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["user_id", "item_id", "rating", "timestamp"])
        writer.writerows(rows)


def test_spans_are_equal_time_ordered_and_keep_every_row(tmp_path):
    _ratings(tmp_path / "a.csv", [(f"u{i % 7}", f"i{i % 5}", 1 + i % 5, 1000 - i) for i in range(50)])
    _ratings(tmp_path / "b.csv", [(f"u{i}", "i1", 3, 2000 + i) for i in range(51)])
    sizes = retrain.cut_into_spans([str(tmp_path / "a.csv"), str(tmp_path / "b.csv")],
                                   str(tmp_path / "spans"), 4)
    assert sizes == [25, 25, 26, 25] and sum(sizes) == 101
    last_time = -1
    for span in range(1, 5):
        with open(tmp_path / "spans" / f"span-{span}" / "ratings.csv") as handle:
            times = [int(row["timestamp"]) for row in csv.DictReader(handle)]
        assert times == sorted(times) and times[0] >= last_time
        last_time = times[-1]


def test_the_next_span_is_scored_on_the_windows_vocabulary(tmp_path):
    _ratings(tmp_path / "next.csv", [("u1", "i2", 4, 10), ("u9", "i1", 2, 11), ("u2", "i7", 5, 12)])
    training = (["u1", "u2", "u1"], ["i1", "i2", "i2"], np.array([5.0, 3.0, 4.0]))
    split = retrain.next_span_split(training, str(tmp_path / "next.csv"))
    assert split.user_ids == ["u1", "u2"] and split.item_ids == ["i1", "i2"]
    # An unknown user gets the OOV index; an item outside the corpus, one past it (a miss).
    assert split.held_out.users.tolist() == [0, 2, 1]
    assert split.held_out.items.tolist() == [1, 0, 2]
    assert split.held_out.ratings.tolist() == [4.0, 2.0, 5.0]


def _run(span, seconds, trainer, example_gen, top_100=None):
    next_span = {} if top_100 is None else {
        "top_10_accuracy_seen_excluded": top_100 / 4, "top_100_accuracy_seen_excluded": top_100,
        "rmse": 1.0 - top_100 / 10}
    popular = {} if top_100 is None else {"top_10_accuracy_seen_excluded": 0.05,
                                          "top_100_accuracy_seen_excluded": 0.3}
    return SpanRun(span, seconds, {"CsvExampleGen": example_gen, "Trainer": trainer},
                   next_span, popular)


def test_the_table_and_the_goal_numbers():
    runs = {"warm": [_run(1, 30, 10, 2.0, 0.5), _run(2, 10, 3, 2.0, 0.52), _run(3, 12, 4, 2.4)],
            "from scratch": [_run(1, 30, 10, 2.0, 0.5), _run(2, 30, 10, 2.1, 0.50),
                             _run(3, 40, 12, 2.2)]}
    numbers = retrain.summary([10, 10, 12], runs)
    assert numbers["time_ratio"] == pytest.approx(np.median([10 / 30, 12 / 40]))
    assert numbers["trainer_ratio"] == pytest.approx(np.median([3 / 10, 4 / 12]))
    assert numbers["top_100_difference"] == pytest.approx(0.02)  # span 3 has no next span
    assert numbers["example_gen_last_over_second"] == pytest.approx(1.2)
    assert numbers["span_size_spread"] == pytest.approx(1.2)
    table = retrain.markdown_table(runs)
    assert "| 2 | 10.0 | 3.0 | 30.0 | 10.0 | 0.33 | 0.130 / 0.125 / 0.050 | 0.520 / 0.500 / 0.300 |" in table
    assert table.splitlines()[-1].endswith("| – / – / – | – / – / – | – / – |")


@pytest.mark.parametrize("argv,message", [
    (["--spans", "2"], "--spans must be in 3..100"),
    (["--window-spans", "11"], "--window-spans must be in 1..10"),
    (["--warm-start-epochs", "0"], "--warm-start-epochs must be in 1..100"),
    (["--shared-data", "/nonexistent"], "u.data: not found (--shared-data)"),
])
def test_bad_options_are_refused_with_the_option_named(capsys, tmp_path, argv, message):
    if "--shared-data" not in argv:
        (tmp_path / "ml-100k").mkdir()
        (tmp_path / "ml-100k" / "u.data").write_text("")
        argv = argv + ["--shared-data", str(tmp_path)]
    assert cli.main(["bench", "retrain", *argv]) == 2
    assert message in capsys.readouterr().err
