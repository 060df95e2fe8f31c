"""Fingerprints of what a component reads by path: the model code and the items file.

TFX caches a component when its inputs and execution properties are
unchanged. Transform and Trainer name their functions by import path
(`run_fn="mtrec.trainer_module.trainer.run_fn"`), and the Trainer reads the
items file by path; a path does not change when what it points at does, so an
edited model or titles file would silently reuse a stale cached result.
Passing these fingerprints in their custom_config makes any change a cache
miss, and leaves unchanged inputs cached.
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


def file_sha256(path: str) -> str:
    """The sha256 (hex) of a local file's contents, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_version(path: str) -> str:
    """sha256 (first 16 hex digits) of a local file's contents; "" for no file
    ("") or a URI (gs://...).

    A URI is not read: compiling for Kubeflow happens where the cluster's
    storage may not be reachable, and a compiled spec is run many times, so a
    fingerprint taken then would go stale anyway. There, a changed items file
    needs a new path to re-run the Trainer.
    """
    if not path or "://" in path:
        return ""
    return file_sha256(path)[:16]
