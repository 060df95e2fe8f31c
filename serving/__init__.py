"""Reading pushed models: find the latest version, load it, query it."""

# Any process may import this package first (Beam workers, Airflow and KFP
# containers, a user's script): Keras 2 must be selected before TensorFlow loads.
from mtrec.pipeline import env as _env

_env.configure()
