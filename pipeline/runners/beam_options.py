"""The Beam options the local runners pass to the data components.

The DirectRunner runs in memory, in one process, unless `beam_mode` or an
explicit `--direct_running_mode` asks for multi-processing, which runs the
Beam steps in a worker process per core. It stays opt-in: with TFX's own CSV
reader it once lost rows of a large CSV with no error, for a reason inside
Beam that was never found (docs/benchmarks.md, "Rows lost in multi-processing
mode"). Every component boundary counts its records and fails the run on a
difference (components/record_counts.py, boundary_counts.py), so a run in
either mode keeps every row or stops. Options given explicitly in
`beam_args` (a --runner or a --direct_running_mode) always win.

With `beam_runner = "flink"` the data components run on the Flink cluster at
`flink.master` through Beam's job server, their Python stages in the SDK
workers of the pool at `flink.worker_pool` (flink_cluster.py starts one).
"""

from __future__ import annotations

from typing import List

from mtrec.pipeline.config import Config

# Imported by every worker process as it starts; see pipeline/runtime/beam_worker_plugin.py.
WORKER_PLUGIN = "mtrec.pipeline.runtime.beam_worker_plugin"


def flink_args(config: Config) -> List[str]:
    """The FlinkRunner's options for `config.flink`."""
    from mtrec.pipeline.runners.flink_setup import job_server_jar

    flink = config.flink
    jar = flink.job_server_jar or str(job_server_jar(flink.cache_path()))
    return ["--runner=FlinkRunner", f"--flink_master={flink.master}",
            f"--flink_job_server_jar={jar}", f"--parallelism={flink.parallelism}",
            "--environment_type=EXTERNAL", f"--environment_config={flink.worker_pool}",
            "--sdk_worker_parallelism=1"]


def beam_args(config: Config) -> List[str]:
    """config.beam_args, plus the runner's options: Flink's for beam_runner =
    "flink", else the DirectRunner mode unless a runner or mode is given, plus
    the worker plugin wherever Flink or the DirectRunner starts workers."""
    args = list(config.beam_args)
    if config.beam_runner == "flink" and not any(a.startswith("--runner") for a in args):
        return flink_args(config) + [f"--beam_plugins={WORKER_PLUGIN}"] + args
    explicit = any(a.startswith(("--runner", "--direct_running_mode")) for a in args)
    if not explicit:
        args.append(f"--direct_running_mode={config.beam_mode}")
        if config.beam_mode == "multi_processing":
            args.append("--direct_num_workers=0")  # one worker per core
    on_direct_workers = ("--direct_running_mode=multi_processing" in args
                         and not any(a.startswith("--runner") for a in args))
    if on_direct_workers:
        args.append(f"--beam_plugins={WORKER_PLUGIN}")
    return args
