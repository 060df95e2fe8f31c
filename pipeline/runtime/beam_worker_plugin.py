"""Imported by each Beam worker process as it starts (`--beam_plugins`, added by
pipeline/runners/beam_options.py for the DirectRunner's multi-processing
workers and Flink's SDK workers): the worker reads TFRecords with
TensorFlow's reader (beam_tfrecord.py), and releases what Beam keeps alive
before its interpreter shuts down (beam_keepalive.py)."""

import atexit

from mtrec.pipeline.runtime import beam_keepalive, beam_tfrecord

beam_tfrecord.install()
atexit.register(beam_keepalive.release)
