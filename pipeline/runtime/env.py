"""Process environment every entry point sets before TensorFlow is imported.

TFRS needs Keras 2 (tf-keras). `TF_USE_LEGACY_KERAS=1` selects it, and it
must be set before the first `import tensorflow` anywhere in the process;
tensorflow_transform sets it on import if unset, so relying on import order
would make behaviour depend on which module happened to load first.
"""

import os
import warnings

PYTHON_VERSION_WARNING = "You are using a non-supported Python version"


def configure() -> None:
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    # TensorFlow's C++ start-up messages (CUDA plugin registration on a machine
    # without a GPU) are noise to a user; set TF_CPP_MIN_LOG_LEVEL=0 to see them.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # TFX 1.16 requires Python 3.10; the Google client libraries it pulls in
    # warn about that version on every import, which tells a user nothing.
    warnings.filterwarnings("ignore", message=PYTHON_VERSION_WARNING, category=FutureWarning)
    # The same for the processes this one starts (Beam's multi-processing
    # workers import them again, each printing the warning per library); filters
    # the user set themselves come later and so take precedence.
    ours = f"ignore:{PYTHON_VERSION_WARNING}:FutureWarning"
    theirs = os.environ.get("PYTHONWARNINGS", "")
    if ours not in theirs.split(","):
        os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [ours, theirs]))
    # Deprecation notices between Google client libraries TFX pins together.
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\.")
