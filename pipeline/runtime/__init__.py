"""The runtime layer: what every process needs before anything else, and the
workarounds for third-party behaviour, each in its own module.

  env             Keras 2 for TFRS, quiet start-up; applied on import of this package
  errors          UserFacingError, the base of every error a user can fix
  beam_keepalive  releases what Beam's `shared` module keeps alive after a run
  beam_tfrecord   Beam's TFRecord source reading with TensorFlow's C++ reader
  beam_worker_plugin  installs both in each Beam worker (multi-processing, Flink)
  tf_autograph    keeps AutoGraph out of tf_keras's own source

It imports nothing from the rest of the project. Every package that a process
may import first (the CLI, serving, the components, the trainer module, the
benchmarks) imports this package, so Keras 2 is selected before TensorFlow
loads wherever the process starts.
"""

from mtrec.pipeline.runtime.env import configure

configure()
