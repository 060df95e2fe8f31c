"""Releases the object Beam's `shared` module keeps alive after its last user.

`_SharedMap._keepalive` (apache_beam/utils/shared.py) holds the last object a
`shared.Shared` handed out: here a SavedModel that Transform or the Evaluator
loaded. Held until interpreter shutdown, its TensorFlow functions are freed
after TensorFlow's own registry, and the process ends with 'Exception ignored
in AtomicFunction.__del__' tracebacks. The local runner releases it after a run
(pipeline/runners/local.py); each multi-processing worker at exit
(beam_worker_plugin.py).
"""

import gc

from apache_beam.utils import shared


def release() -> None:
    shared._shared_map._keepalive = (None, None)
    gc.collect()  # the loaded models hold reference cycles
