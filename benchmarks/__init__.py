"""Benchmark commands (`mtrec bench ...`): they print a table and write it to
docs/benchmarks.md, always with the reference baselines from the same run."""

from mtrec.pipeline import env as _env

_env.configure()
