"""A fingerprint of the code that runs inside Transform, Trainer and Evaluator.

TFX caches a component when its inputs and execution properties are
unchanged. Transform and Trainer name their functions by import path
(`run_fn="mtrec.trainer_module.trainer.run_fn"`), and a path does not change
when the code behind it does, so an edited model would silently reuse a stale
cached one. Passing this fingerprint in their custom_config makes any change
to the model code a cache miss, and leaves unchanged code cached.
"""

from __future__ import annotations

import hashlib
import pathlib

_MODEL_CODE_DIR = pathlib.Path(__file__).resolve().parent.parent / "trainer_module"


def model_code_version() -> str:
    """sha256 (first 16 hex digits) over trainer_module/*.py, in name order."""
    digest = hashlib.sha256()
    for path in sorted(_MODEL_CODE_DIR.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
