"""Custom TFX component parts.

  atomic_pusher  a Pusher executor that publishes a version by rename, so a
                 reader never sees half a model
"""

# Any process may import this package first (Beam workers, Airflow and KFP
# containers, a user's script): Keras 2 must be selected before TensorFlow loads.
from mtrec.pipeline import env as _env

_env.configure()
