"""Version folders under a model's serving directory: `<base>/<integer>/`.

Shared by the pusher (which picks the next version) and the loader (which
reads the newest); works on local paths and on tf.io.gfile URIs (gs://...).
"""

from __future__ import annotations

from typing import List

import tensorflow as tf


def published_versions(base_directory: str) -> List[int]:
    """The versions fully published under `base_directory`, oldest first.

    Staging folders (dot-prefixed) and anything not an integer are ignored.
    """
    if not tf.io.gfile.isdir(base_directory):
        return []
    names = [name.rstrip("/") for name in tf.io.gfile.listdir(base_directory)]
    return sorted(int(name) for name in names if name.isdigit())
