"""Benchmark commands (`mtrec bench ...`): they print a table and write it to
docs/benchmarks.md, always with the reference baselines from the same run."""

import mtrec.pipeline.runtime  # noqa: F401  (Keras 2 before TensorFlow loads: pipeline/runtime/env.py)
