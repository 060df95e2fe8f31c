"""The pipeline: its config and DAG (this folder), the runners (`runners/`),
reading runs back (`runs/`), the `mtrec` CLI (`cli/`) and the runtime layer
every process loads first (`runtime/`). docs/architecture.md maps them."""

import mtrec.pipeline.runtime  # noqa: F401  (Keras 2 before TensorFlow loads: runtime/env.py)
