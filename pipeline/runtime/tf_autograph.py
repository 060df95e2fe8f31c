"""Keep AutoGraph out of Keras's own source.

AutoGraph rewrites the Python of every function a `tf.function` calls unless
its module is on TensorFlow's do-not-convert list. That list names `keras`,
whose code is written for graph mode, but Keras 2 now ships as `tf_keras`
(TF_USE_LEGACY_KERAS=1, pipeline/runtime/env.py), which the list does not
name. So every trace re-parses and rewrites tf_keras's layers, `fit` loop and
optimizer, which was most of the Trainer's time (measured: docs/benchmarks.md).
Our own layers and TFRS's are still converted, as before.
"""

from tensorflow.python.autograph.core import config


def leave_tf_keras_unconverted() -> None:
    """Adds tf_keras to AutoGraph's do-not-convert rules (once per process)."""
    if not any(isinstance(rule, config.DoNotConvert) and rule.matches("tf_keras")
               for rule in config.CONVERSION_RULES):
        config.CONVERSION_RULES = (config.DoNotConvert("tf_keras"),) + config.CONVERSION_RULES
