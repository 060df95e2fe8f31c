"""Reading pushed models: find the latest version, load it, query it."""

import mtrec.pipeline.runtime  # noqa: F401  (Keras 2 before TensorFlow loads: pipeline/runtime/env.py)
