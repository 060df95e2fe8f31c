"""The DirectRunner mode the local runners choose."""

from mtrec.pipeline import beam_options
from mtrec.pipeline.config import load_config


def test_auto_uses_memory_for_small_inputs_and_all_cores_for_large(tmp_path, monkeypatch):
    assert beam_options.beam_args(load_config()) == ["--direct_running_mode=in_memory"]
    (tmp_path / "big.csv").write_text("user_id,item_id,rating\n")
    monkeypatch.setattr(beam_options, "AUTO_MULTI_PROCESSING_BYTES", 10)
    big = load_config(overrides={"data.ratings_dir": str(tmp_path)})
    assert beam_options.beam_args(big) == ["--direct_running_mode=multi_processing",
                                           "--direct_num_workers=0",
                                           "--beam_plugins=mtrec.pipeline.beam_worker_plugin"]


def test_explicit_mode_and_runner_win():
    forced = load_config(overrides={"beam_mode": "multi_processing"})
    assert "--direct_running_mode=multi_processing" in beam_options.beam_args(forced)
    given = load_config(overrides={"beam_args": ["--direct_running_mode=multi_processing"]})
    assert beam_options.beam_args(given) == ["--direct_running_mode=multi_processing",
                                             "--beam_plugins=mtrec.pipeline.beam_worker_plugin"]
    dataflow = load_config(overrides={"beam_args": ["--runner=DataflowRunner", "--project=p"]})
    assert beam_options.beam_args(dataflow) == ["--runner=DataflowRunner", "--project=p"]
