"""Interrupted runs, the change gate, determinism and rollback: real runs on the sample.

The runs share one module-scoped folder and build on each other, in order:

1. `mtrec run` in its own process, killed (SIGKILL) in the Trainer's second epoch;
2. the same command again: it completes, reuses ExampleGen .. Transform from
   the cache, and pushes a blessed model;
3. a worse model (0 epochs) whose absolute bounds are lowered so it passes
   them: the change thresholds against run 2's blessed model refuse it;
4. run 2's configuration in a fresh pipeline root, pushing to the same serving
   folder: the metrics equal run 2's within DETERMINISM_TOLERANCE, and a
   second version is pushed;
5. `mtrec models` lists them, `mtrec rollback` serves run 2's model again.

A watcher thread looks at the serving folder every few milliseconds through
all the runs and records any version folder it sees without a whole model.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from mtrec.pipeline import cli
from mtrec.pipeline.config import load_config
from mtrec.pipeline.runs.results import RunResult, read_run
from mtrec.serving.versions import published_versions

pytestmark = pytest.mark.e2e  # runs the pipeline

MTREC = os.path.join(os.path.dirname(sys.executable), "mtrec")
UPSTREAM_OF_TRAINER = ["CsvExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator",
                       "Transform"]
# Two runs of the same data and seed: CPU float reductions may be ordered
# differently between processes, nothing more (measured: docs/reliability.md).
DETERMINISM_TOLERANCE = 1e-3
GATED = ("top_100_accuracy_seen_excluded", "rmse")


@dataclasses.dataclass
class Run:
    exit_code: int
    output: str
    result: RunResult


class ServingWatcher(threading.Thread):
    """Records every version folder seen in `base` that lacks a whole model."""

    def __init__(self, base: str):
        super().__init__(daemon=True)
        self.base = base
        self.partial: list[str] = []
        self.seen: set[str] = set()
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            if os.path.isdir(self.base):
                for name in os.listdir(self.base):
                    if name.isdigit() and name not in self.seen:
                        self.seen.add(name)
                        folder = os.path.join(self.base, name)
                        for required in ("saved_model.pb", "variables/variables.index",
                                         "assets.extra/push_info.json",
                                         "assets.extra/index_quality.json"):
                            if not os.path.exists(os.path.join(folder, required)):
                                self.partial.append(f"{name} lacked {required}")
            time.sleep(0.005)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("reliability")


@pytest.fixture(scope="module")
def watcher(folder):
    thread = ServingWatcher(str(folder / "serving" / "recommender"))
    thread.start()
    yield thread
    thread.stopped.set()


def _argv(folder, root: str, *extra) -> list[str]:
    return ["run", "--pipeline-root", str(folder / root), "--serving-dir",
            str(folder / "serving"), *extra]


def _metadata(folder, root: str) -> str:
    return load_config(overrides={"pipeline_root": str(folder / root)}).metadata_path


def _run(folder, root: str, *extra) -> Run:
    completed = subprocess.run([MTREC, *_argv(folder, root, *extra)], capture_output=True,
                               text=True, timeout=900)
    return Run(completed.returncode, completed.stdout + completed.stderr,
               read_run(_metadata(folder, root)))


def _states(result: RunResult) -> dict[str, str]:
    return {c.component: c.state for c in result.components}


def _metric(result: RunResult, name: str) -> float:
    return next(row.value for row in result.metrics if row.name == name)


@pytest.fixture(scope="module")
def killed(folder, watcher):
    """Run 1: killed in the Trainer's second epoch; (output, what ML Metadata recorded)."""
    process = subprocess.Popen([MTREC, *_argv(folder, "root")], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines = []
    for line in process.stdout:
        lines.append(line)
        if "▶ Trainer" in "".join(lines) and line.startswith("Epoch 2/"):
            os.killpg(process.pid, signal.SIGKILL)  # the group this test started
            break
    process.wait(timeout=60)
    lines += process.stdout.readlines()
    return "".join(lines), read_run(_metadata(folder, "root"))


@pytest.fixture(scope="module")
def resumed(killed, folder):
    return _run(folder, "root")


@pytest.fixture(scope="module")
def worse(resumed, folder):
    # Every bound but the change against the last blessed model is opened.
    return _run(folder, "root", "--epochs", "0", "--set", "gate.min_top_k_accuracy=0.05",
                "--set", "gate.max_rmse=10", "--set", "gate.min_lift_over_most_popular=-0.99",
                "--set", "gate.min_rmse_gain_over_biases=-0.99")


@pytest.fixture(scope="module")
def repeated(worse, folder):
    return _run(folder, "root2")


def test_killed_during_the_trainer_leaves_nothing_served(killed, folder):
    output, result = killed
    assert "▶ Trainer" in output and "Epoch 2/" in output and "✓ Trainer" not in output
    states = _states(result)
    assert all(states[name] == "ran" for name in UPSTREAM_OF_TRAINER), states
    assert states["Trainer"] == "running"  # never finished: nothing downstream ran
    assert "Pusher" not in states
    assert published_versions(str(folder / "serving" / "recommender")) == []


def test_the_rerun_completes_from_the_cached_upstream_components(resumed, folder, watcher):
    assert resumed.exit_code == 0, resumed.output
    states = _states(resumed.result)
    assert all(states[name] == "cached" for name in UPSTREAM_OF_TRAINER), states
    assert states["Trainer"] == "ran" and states["Pusher"] == "ran"
    assert resumed.result.blessed is True
    (version,) = published_versions(str(folder / "serving" / "recommender"))
    assert resumed.result.pushed_path.endswith(str(version))
    assert watcher.partial == []


def test_worse_than_baseline_beyond_the_change_threshold_is_not_blessed(worse, resumed, folder,
                                                                        watcher):
    assert worse.exit_code == cli.EXIT_NOT_BLESSED, worse.output
    rows = {row.name: row for row in worse.result.metrics}
    top_k = rows["top_100_accuracy_seen_excluded"]
    # It passes its absolute bounds ...
    assert top_k.value >= 0.05 and rows["rmse"].value <= 10
    assert top_k.baseline == pytest.approx(_metric(resumed.result, top_k.name))
    # ... and is refused for the drop against the last blessed model.
    assert top_k.value < top_k.baseline - 0.02
    assert worse.result.blessed is False and worse.result.pushed_path is None
    assert worse.result.gate_failures and all(
        "change vs baseline" in failure for failure in worse.result.gate_failures), \
        worse.result.gate_failures
    assert len(published_versions(str(folder / "serving" / "recommender"))) == 1
    assert watcher.partial == []


def test_runs_end_without_a_traceback(resumed, worse, repeated):
    """No 'Exception ignored in AtomicFunction.__del__' at exit: the Evaluator's
    models are released before the interpreter shuts down (pipeline/runners/local.py)."""
    for run in (resumed, worse, repeated):
        assert "Traceback" not in run.output, run.output[-3000:]


def test_two_runs_with_the_same_seed_give_the_same_metrics(repeated, resumed):
    assert repeated.exit_code == 0, repeated.output
    assert all(c.state == "ran" for c in repeated.result.components)  # nothing from a cache
    for name in GATED + ("top_10_accuracy_seen_excluded", "top_100_accuracy"):
        assert _metric(repeated.result, name) == pytest.approx(
            _metric(resumed.result, name), abs=DETERMINISM_TOLERANCE), name
    print({name: (_metric(resumed.result, name), _metric(repeated.result, name))
           for name in GATED})


def test_models_lists_versions_metrics_and_blessing(repeated, resumed, worse, folder, capsys,
                                                    monkeypatch):
    from mtrec.pipeline.runs.models import list_models

    base = str(folder / "serving" / "recommender")
    first, second = published_versions(base)
    records = list_models(_metadata(folder, "root"), base)
    # Run 2's model (pushed), run 3's (not blessed), run 4's (another root: no metrics here).
    assert [(r.versions, r.blessed) for r in records] == [([first], True), ([], False),
                                                          ([second], True)]
    for record, run in ((records[0], resumed), (records[1], worse)):
        for name in GATED:
            assert record.metrics[name] == pytest.approx(_metric(run.result, name))
    assert records[1].gate_failures and records[2].metrics == {}
    monkeypatch.setenv("COLUMNS", "250")  # one line per model
    assert cli.main(["models", "--pipeline-root", str(folder / "root"),
                     "--serving-dir", str(folder / "serving")]) == 0
    out = capsys.readouterr().out
    for text in (str(first), str(second), "serving", "pushed earlier", "not pushed",
                 f"{_metric(resumed.result, 'top_100_accuracy_seen_excluded'):.4f}"):
        assert text in out, out


def test_rollback_serves_the_earlier_blessed_model_again(repeated, resumed, folder, capsys,
                                                         watcher):
    from mtrec.serving.versions import read_push_info
    from mtrec.serving.loader import PushedModel

    base = str(folder / "serving" / "recommender")
    first, second = published_versions(base)
    assert cli.main(["rollback", "--serving-dir", str(folder / "serving")]) == 0
    assert f"serving version {first} again" in capsys.readouterr().out
    third = published_versions(base)[-1]
    assert third > second
    assert read_push_info(os.path.join(base, str(third)))["source_model"] == read_push_info(
        os.path.join(base, str(first)))["source_model"]
    model = PushedModel.latest(str(folder / "serving"), "recommender")
    assert model.version == third
    (recommendations,) = model.recommend(["u0001"], 10)
    assert len(recommendations.items) == 10
    time.sleep(0.1)
    assert watcher.partial == [] and {str(first), str(second), str(third)} <= watcher.seen
