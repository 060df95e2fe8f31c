"""The Beam options the local runners pass to the data components.

The DirectRunner runs in memory, in one process, unless `beam_mode` or an
explicit `--direct_running_mode` asks for multi-processing. Multi-processing
uses every core, but on a large CSV it can lose ExampleGen rows with no
error, where the in-memory mode keeps them all (docs/benchmarks.md, "Rows
lost in multi-processing mode"). ExampleGen fails when rows go missing
(components/record_counts.py), so a run in that mode either keeps every row
or stops. Options given explicitly in `beam_args` (a --runner or a
--direct_running_mode) always win.
"""

from __future__ import annotations

from typing import List

from mtrec.pipeline.config import Config

# Imported by every worker process as it starts; see pipeline/runtime/beam_worker_plugin.py.
WORKER_PLUGIN = "mtrec.pipeline.runtime.beam_worker_plugin"


def beam_args(config: Config) -> List[str]:
    """config.beam_args, plus the DirectRunner mode unless a runner or mode is
    given, plus the worker plugin wherever the DirectRunner starts workers."""
    args = list(config.beam_args)
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
