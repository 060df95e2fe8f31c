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

import mtrec.pipeline.runtime  # noqa: F401  (Keras 2 before TensorFlow loads: runtime/env.py)
