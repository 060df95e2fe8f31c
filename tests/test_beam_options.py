"""The DirectRunner mode the local runners choose."""

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
