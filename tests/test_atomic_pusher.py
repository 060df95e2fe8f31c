"""Publishing a model version by rename, and reading versions back."""

import os

import pytest

from mtrec.serving.versions import STAGING_PREFIX, next_version, publish
from mtrec.serving.loader import NoPushedModelError, latest_version_dir
from mtrec.serving.versions import published_versions


def _model(tmp_path, name="model"):
    model = tmp_path / name
    (model / "variables").mkdir(parents=True, exist_ok=True)
    (model / "saved_model.pb").write_bytes(b"graph")
    (model / "variables" / "variables.index").write_bytes(b"index")
    return str(model)


def test_publish_renames_a_complete_copy_into_place(tmp_path):
    base = tmp_path / "serving" / "recommender"
    path = publish(_model(tmp_path), str(base))
    assert os.path.basename(path).isdigit()
    assert (base / os.path.basename(path) / "saved_model.pb").read_bytes() == b"graph"
    assert (base / os.path.basename(path) / "variables" / "variables.index").exists()
    assert [name for name in os.listdir(base) if name.startswith(STAGING_PREFIX)] == []


def test_versions_strictly_increase_within_one_second(tmp_path):
    base = str(tmp_path / "serving")
    first = int(os.path.basename(publish(_model(tmp_path, "a"), base)))
    second = int(os.path.basename(publish(_model(tmp_path, "b"), base)))
    assert second > first
    assert published_versions(base) == [first, second]
    assert next_version(base) > second


def test_interrupted_staging_is_ignored_then_removed(tmp_path):
    base = tmp_path / "serving"
    done = publish(_model(tmp_path, "a"), str(base))
    stale = base / f"{STAGING_PREFIX}9999999999-deadbeef"
    stale.mkdir()  # what a push killed mid-copy leaves behind
    assert latest_version_dir(str(tmp_path), "serving") == done  # readers never see it
    publish(_model(tmp_path, "b"), str(base))
    assert not stale.exists()


def test_republishing_the_same_model_adds_no_version(tmp_path):
    base = str(tmp_path / "serving")
    model = _model(tmp_path)
    first = publish(model, base)
    assert publish(model, base) == first
    assert len(published_versions(base)) == 1
    assert publish(_model(tmp_path, "retrained"), base) != first


def test_no_version_is_a_clear_error(tmp_path):
    with pytest.raises(NoPushedModelError, match="no pushed model under"):
        latest_version_dir(str(tmp_path), "recommender")


def _run_executor(tmp_path, recall: float, min_recall: float):
    """Runs the real executor on real TFX artifacts; returns the PushedModel artifact."""
    import json as json_lib

    from google.protobuf import json_format
    from tfx.proto import pusher_pb2
    from tfx.types import standard_artifacts

    from mtrec.components.atomic_pusher import AtomicPushExecutor

    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "trainer_model")
    serving = tmp_path / "trainer_model" / "Format-Serving"
    (serving / "assets.extra").mkdir(parents=True)
    (serving / "saved_model.pb").write_bytes(b"graph")
    (serving / "assets.extra" / "index_quality.json").write_text(
        json_lib.dumps({"recall_at_k": recall, "k": 100, "users": 500}))
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = str(tmp_path / "blessing")
    blessing.set_int_custom_property("blessed", 1)
    pushed = standard_artifacts.PushedModel()
    pushed.uri = str(tmp_path / "pushed")
    destination = pusher_pb2.PushDestination(filesystem=pusher_pb2.PushDestination.Filesystem(
        base_directory=str(tmp_path / "serving")))
    AtomicPushExecutor().Do(
        {"model": [model], "model_blessing": [blessing]}, {"pushed_model": [pushed]},
        {"push_destination": json_format.MessageToJson(destination),
         "custom_config": json_lib.dumps({"min_index_recall": min_recall})})
    return pushed


def test_executor_pushes_a_blessed_model_with_an_accurate_index(tmp_path):
    pushed = _run_executor(tmp_path, recall=0.99, min_recall=0.95)
    assert pushed.get_int_custom_property("pushed") == 1
    assert published_versions(str(tmp_path / "serving")) != []


def test_executor_refuses_an_inaccurate_index(tmp_path):
    pushed = _run_executor(tmp_path, recall=0.80, min_recall=0.95)
    assert pushed.get_int_custom_property("pushed") == 0
    assert "0.8000, below the required 0.9500" in pushed.get_string_custom_property("refused_reason")
    assert published_versions(str(tmp_path / "serving")) == []


def test_rollback_serves_the_previous_model_again_as_the_newest_version(tmp_path):
    from mtrec.serving.versions import read_push_info, rollback

    base = str(tmp_path / "serving")
    first = int(os.path.basename(publish(_model(tmp_path, "a"), base)))
    second = int(os.path.basename(publish(_model(tmp_path, "b"), base)))
    previous, copied, path = rollback(base)
    assert (previous, copied) == (second, first)
    assert published_versions(base) == [first, second, int(os.path.basename(path))]
    assert latest_version_dir(str(tmp_path), "serving") == path
    assert (tmp_path / "serving" / os.path.basename(path) / "saved_model.pb").read_bytes() == b"graph"
    info = read_push_info(path)
    assert info["source_model"] == str(tmp_path / "a")
    assert info["copy_of"] == first and info["rolled_back_from"] == second
    assert [name for name in os.listdir(base) if name.startswith(STAGING_PREFIX)] == []
    # Rolling back again goes to the newest *different* model: b.
    assert rollback(base)[1] == second


def test_rollback_to_a_named_version_and_its_errors(tmp_path):
    from mtrec.serving.versions import RollbackError, rollback

    base = str(tmp_path / "serving")
    with pytest.raises(RollbackError, match="no pushed version to roll back from"):
        rollback(base)
    first = int(os.path.basename(publish(_model(tmp_path, "a"), base)))
    with pytest.raises(RollbackError, match="is the only model pushed"):
        rollback(base)
    second = int(os.path.basename(publish(_model(tmp_path, "b"), base)))
    third = int(os.path.basename(publish(_model(tmp_path, "c"), base)))
    with pytest.raises(RollbackError, match=f"version {third} is already the one served"):
        rollback(base, third)
    with pytest.raises(RollbackError, match="no version 12345"):
        rollback(base, 12345)
    assert rollback(base, first)[1] == first
    assert published_versions(base)[:3] == [first, second, third]


def test_rollback_cli_errors_are_one_line(capsys, tmp_path):
    from mtrec.pipeline import cli

    code = cli.main(["rollback", "--serving-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "no pushed version to roll back from" in err and "Traceback" not in err
    code = cli.main(["models", "--serving-dir", str(tmp_path),
                     "--pipeline-root", str(tmp_path / "none")])
    err = capsys.readouterr().err
    assert code == 2 and "no model evaluated in" in err


def test_a_push_killed_mid_copy_leaves_no_version_and_the_next_push_cleans_up(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    model = tmp_path / "big_model"
    (model / "variables").mkdir(parents=True)
    (model / "saved_model.pb").write_bytes(b"graph")
    for i in range(800):  # enough files that the copy takes a while
        (model / "variables" / f"shard-{i:05d}").write_bytes(b"x" * 4096)
    base = tmp_path / "serving"
    process = subprocess.Popen(
        [sys.executable, "-c", "import sys; from mtrec.serving.versions import publish; "
                               "publish(sys.argv[1], sys.argv[2])", str(model), str(base)])
    deadline = time.monotonic() + 120
    staging = []
    while not staging and process.poll() is None and time.monotonic() < deadline:
        staging = [n for n in os.listdir(base) if n.startswith(STAGING_PREFIX)] \
            if base.is_dir() else []
        time.sleep(0.001)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert staging, "the push finished before it could be killed"
    assert published_versions(str(base)) == []  # only the staging folder, never a version
    with pytest.raises(NoPushedModelError):
        latest_version_dir(str(tmp_path), "serving")
    path = publish(_model(tmp_path), str(base))
    assert os.listdir(base) == [os.path.basename(path)]
