"""Code that runs inside Transform, Trainer and Evaluator.

Modules, one concern each:
  features       feature names shared by every stage
  preprocessing  the Transform `preprocessing_fn` (id and side-feature vocabularies)
  feature_tables per-item / per-user side-feature tables from the training data
  towers         user and item towers (id embeddings + pooled side features)
  model          the multi-task TFRS model: retrieval + rating tasks, loss weights
  index          ScaNN index sizing and construction
  export         the exported SavedModel and its serving signatures
  trainer        the Trainer `run_fn`
  evaluation     TFMA custom metrics and the Evaluator's model loader
"""

# Any process may import this package first (Beam workers, Airflow and KFP
# containers, a user's script): Keras 2 must be selected before TensorFlow loads.
from mtrec.pipeline import env as _env

_env.configure()
