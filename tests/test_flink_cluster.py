"""The standalone cluster's configuration and the run's cluster handling, without starting Java."""

import pathlib

import pytest

from mtrec.pipeline.config import load_config
from mtrec.pipeline.runners import flink_cluster, flink_setup


def _fake_distribution(cache: pathlib.Path) -> pathlib.Path:
    conf = flink_setup.flink_home(cache) / "conf"
    conf.mkdir(parents=True)
    (conf / "flink-conf.yaml").write_text("# Flink's defaults\nenv.java.opts.all: --add-opens=x\n"
                                          "rest.port: 8081\ntaskmanager.numberOfTaskSlots: 1\n")
    return conf


def test_the_configuration_keeps_flinks_defaults_and_sets_ours_once(tmp_path):
    conf = _fake_distribution(tmp_path)
    spec = flink_cluster.ClusterSpec(cache_dir=tmp_path, task_managers=3, rest_port=18081)
    for _ in range(2):  # rewriting starts from Flink's own file again
        text = flink_cluster.write_configuration(spec).read_text()
    lines = text.splitlines()
    assert "env.java.opts.all: --add-opens=x" in lines
    assert [line for line in lines if line.startswith("rest.port:")] == ["rest.port: 18081"]
    assert "parallelism.default: 3" in lines and "rest.bind-address: localhost" in lines
    assert f"io.tmp.dirs: {tmp_path / 'cluster' / 'tmp'}" in lines
    assert (conf / "workers").read_text() == "localhost\n" * 3


def test_a_run_on_flink_without_the_setup_says_what_to_run(tmp_path):
    flink = load_config(overrides={"beam_runner": "flink", "flink.cache_dir": str(tmp_path)}).flink
    with pytest.raises(flink_cluster.FlinkClusterError, match="`mtrec flink setup` builds it"):
        with flink_cluster.cluster_for_run(flink):
            pass


def test_start_refuses_without_a_distribution(tmp_path):
    with pytest.raises(flink_cluster.FlinkClusterError, match="run `mtrec flink setup` first"):
        flink_cluster.start(flink_cluster.ClusterSpec(cache_dir=tmp_path))


def test_the_spec_follows_the_config(tmp_path):
    flink = load_config(overrides={"flink.master": "localhost:18081", "flink.task_managers": 3,
                                   "flink.worker_pool": "localhost:15000",
                                   "flink.cache_dir": str(tmp_path)}).flink
    spec = flink_cluster.spec_for(flink)
    assert (spec.rest_port, spec.worker_pool_port, spec.task_managers) == (18081, 15000, 3)
    assert spec.cache_dir == tmp_path and spec.master == "localhost:18081"
