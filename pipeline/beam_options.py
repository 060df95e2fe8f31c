"""The Beam options the local runners pass to the data components.

The DirectRunner runs in one of two modes. Multi-processing uses every core
but starts worker processes (each imports TensorFlow) for every Beam stage:
measured on the 9,640-rating sample with 2 cores, 86 s for the whole pipeline
against 49 s in memory. So `beam_mode = "auto"` picks multi-processing only
for inputs over AUTO_MULTI_PROCESSING_BYTES. Options given explicitly in
`beam_args` (a --runner or a --direct_running_mode) always win.
"""

from __future__ import annotations

import glob
import os
from typing import List

from mtrec.pipeline.config import Config

AUTO_MULTI_PROCESSING_BYTES = 64 * 1024 * 1024
# Imported by every worker process as it starts; see beam_worker_plugin.py.
WORKER_PLUGIN = "mtrec.pipeline.beam_worker_plugin"


def _input_bytes(config: Config) -> int:
    if "://" in config.data.ratings_dir:
        return 0
    files = glob.glob(os.path.join(config.data.ratings_dir, config.data.file_pattern))
    return sum(os.path.getsize(path) for path in files)


def direct_running_mode(config: Config) -> str:
    """'multi_processing' or 'in_memory', resolving 'auto' from the input size."""
    if config.beam_mode != "auto":
        return config.beam_mode
    return "multi_processing" if _input_bytes(config) > AUTO_MULTI_PROCESSING_BYTES else "in_memory"


def beam_args(config: Config) -> List[str]:
    """config.beam_args, plus the DirectRunner mode unless a runner or mode is
    given, plus the worker plugin wherever the DirectRunner starts workers."""
    args = list(config.beam_args)
    explicit = any(a.startswith(("--runner", "--direct_running_mode")) for a in args)
    if not explicit:
        mode = direct_running_mode(config)
        args.append(f"--direct_running_mode={mode}")
        if mode == "multi_processing":
            args.append("--direct_num_workers=0")  # one worker per core
    on_direct_workers = ("--direct_running_mode=multi_processing" in args
                         and not any(a.startswith("--runner") for a in args))
    if on_direct_workers:
        args.append(f"--beam_plugins={WORKER_PLUGIN}")
    return args
