"""The pipeline: config, `create_pipeline`, runners, results and the `mtrec` CLI."""

from mtrec.pipeline import env as _env

_env.configure()  # before anything below imports TensorFlow (see env.py)
