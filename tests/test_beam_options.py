"""The DirectRunner mode the local runners choose."""

import re

import pytest

from mtrec.pipeline.runners import beam_options
from mtrec.pipeline.config import load_config

PLUGIN = "--beam_plugins=mtrec.pipeline.runtime.beam_worker_plugin"


def test_in_memory_by_default_whatever_the_input_size(tmp_path):
    """Multi-processing lost rows of a 10M-rating input (beam_options.py), so no
    input size switches to it."""
    with open(tmp_path / "big.csv", "wb") as big_file:  # 80 MB, sparse: nothing written
        big_file.write(b"user_id,item_id,rating\n")
        big_file.truncate(80 * 1024 * 1024)
    big = load_config(overrides={"data.ratings_dir": str(tmp_path)})
    assert beam_options.beam_args(load_config()) == beam_options.beam_args(big) == [
        "--direct_running_mode=in_memory"]


def test_multi_processing_uses_every_core_and_the_worker_plugin():
    forced = load_config(overrides={"beam_mode": "multi_processing"})
    assert beam_options.beam_args(forced) == ["--direct_running_mode=multi_processing",
                                              "--direct_num_workers=0", PLUGIN]
    given = load_config(overrides={"beam_args": ["--direct_running_mode=multi_processing"]})
    assert beam_options.beam_args(given) == ["--direct_running_mode=multi_processing", PLUGIN]


def test_an_explicit_runner_wins():
    dataflow = load_config(overrides={"beam_args": ["--runner=DataflowRunner", "--project=p"]})
    assert beam_options.beam_args(dataflow) == ["--runner=DataflowRunner", "--project=p"]


def test_the_old_auto_mode_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="beam_mode.*in_memory.*multi_processing.*'auto'"):
        load_config(overrides={"beam_mode": "auto"})


def test_flink_runs_on_the_configured_cluster_through_the_worker_pool(tmp_path):
    config = load_config(overrides={"beam_runner": "flink", "flink.master": "flink-jm:8081",
                                    "flink.parallelism": 4, "flink.cache_dir": str(tmp_path),
                                    "beam_args": ["--max_num_records=5"]})
    assert beam_options.beam_args(config) == [
        "--runner=FlinkRunner", "--flink_master=flink-jm:8081",
        f"--flink_job_server_jar={tmp_path / 'beam-flink-1.18-job-server-2.59.0.jar'}",
        "--parallelism=4", "--environment_type=EXTERNAL",
        "--environment_config=localhost:50000", "--sdk_worker_parallelism=1",
        f"--beam_plugins={beam_options.WORKER_PLUGIN}", "--max_num_records=5"]
    explicit = load_config(overrides={"beam_runner": "flink",
                                      "beam_args": ["--runner=DataflowRunner"]})
    assert beam_options.beam_args(explicit) == ["--runner=DataflowRunner"]


@pytest.mark.parametrize("key,value,message", [
    ("beam_runner", "spark", "beam_runner: must be one of"),
    ("flink.master", "localhost", "flink.master: must be HOST:PORT or [local]"),
    ("flink.worker_pool", "pool", "flink.worker_pool: must be HOST:PORT"),
    ("flink.task_managers", 0, "flink.task_managers: must be in 1..64"),
])
def test_bad_flink_settings_name_the_key(key, value, message):
    from mtrec.pipeline.config import ConfigError

    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(overrides={key: value})
