"""Imported by each DirectRunner worker process as it starts (`--beam_plugins`,
added by pipeline/runners/beam_options.py in multi-processing mode), so that
the worker releases what Beam keeps alive before its interpreter shuts down
(beam_keepalive.py)."""

import atexit

from mtrec.pipeline.runtime import beam_keepalive

atexit.register(beam_keepalive.release)
