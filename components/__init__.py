"""Custom TFX component parts.

  atomic_pusher  a Pusher executor that publishes a version by rename, so a
                 reader never sees half a model
"""

import mtrec.pipeline.runtime  # noqa: F401  (Keras 2 before TensorFlow loads: pipeline/runtime/env.py)
