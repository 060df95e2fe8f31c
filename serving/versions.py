"""The version folders under a model's serving directory: `<base>/<integer>/`.

This module owns that layout: where a model's versions live, which ones are
published, and how a version is published (the Pusher) or an earlier one
served again (`mtrec rollback`). Works on local paths and on tf.io.gfile URIs
(gs://...).

A version is published by copying the model to `<base>/.staging-<version>-<random>/`,
then renaming it to `<base>/<version>/`, atomic on a local or POSIX
filesystem, so a reader never sees half a model. Versions are Unix
timestamps, strictly increasing even when two pushes fall in the same second.
Each records where it came from in `assets.extra/push_info.json` (TF
Serving's folder for extra files).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import Any, Dict, List, Optional, Tuple

import tensorflow as tf

from mtrec.pipeline.runtime.errors import UserFacingError

STAGING_PREFIX = ".staging-"
PUSH_INFO = os.path.join("assets.extra", "push_info.json")


class RollbackError(UserFacingError, ValueError):
    """There is no earlier version to roll back to, or the one asked for does not exist."""


def model_base_dir(serving_dir: str, model_name: str) -> str:
    """The folder holding every version of `model_name`."""
    return os.path.join(serving_dir, model_name)


def published_versions(base_directory: str) -> List[int]:
    """The versions fully published under `base_directory`, oldest first.

    Staging folders (dot-prefixed) and anything not an integer are ignored.
    """
    if not tf.io.gfile.isdir(base_directory):
        return []
    names = [name.rstrip("/") for name in tf.io.gfile.listdir(base_directory)]
    return sorted(int(name) for name in names if name.isdigit())


def read_push_info(version_dir: str) -> Dict[str, Any]:
    """What a published version records about itself (`assets.extra/push_info.json`)."""
    info = os.path.join(version_dir, PUSH_INFO)
    if not tf.io.gfile.exists(info):
        return {}
    with tf.io.gfile.GFile(info) as handle:
        return json.load(handle)


def _source_model(version_dir: str) -> Optional[str]:
    """The model URI a published version was copied from, if recorded."""
    return read_push_info(version_dir).get("source_model")


def next_version(base_directory: str) -> int:
    """Now, as a Unix timestamp, or one past the newest version if that is later."""
    return max([int(time.time())] + [v + 1 for v in published_versions(base_directory)])


def _copy_tree(source: str, destination: str) -> None:
    """Copies the folder `source` to `destination` (which must not exist yet)."""
    for directory, _, files in tf.io.gfile.walk(source):
        target = os.path.join(destination, os.path.relpath(directory, source))
        tf.io.gfile.makedirs(target)
        for name in files:
            tf.io.gfile.copy(os.path.join(directory, name), os.path.join(target, name))


def _publish_copy(source_dir: str, base_directory: str, info: Dict[str, Any]) -> str:
    """Copies `source_dir` to a staging folder, writes `info` (plus the version) as its
    push record, and renames it to the next version; returns the version's path.

    Stale staging folders, left by an interrupted push, are removed first.
    """
    tf.io.gfile.makedirs(base_directory)
    for name in tf.io.gfile.listdir(base_directory):
        if name.startswith(STAGING_PREFIX):
            tf.io.gfile.rmtree(os.path.join(base_directory, name.rstrip("/")))
    version = next_version(base_directory)
    staging = os.path.join(base_directory, f"{STAGING_PREFIX}{version}-{uuid.uuid4().hex[:8]}")
    final = os.path.join(base_directory, str(version))
    _copy_tree(source_dir, staging)
    tf.io.gfile.makedirs(os.path.dirname(os.path.join(staging, PUSH_INFO)))
    with tf.io.gfile.GFile(os.path.join(staging, PUSH_INFO), "w") as handle:
        json.dump({**info, "version": version}, handle)
    tf.io.gfile.rename(staging, final)
    return final


def publish(model_path: str, base_directory: str) -> str:
    """Copies `model_path` to a new version under `base_directory`; returns its path.

    If the newest version was published from the same `model_path` (a re-run
    that changed nothing), returns that version's path instead of publishing
    a duplicate.
    """
    versions = published_versions(base_directory)
    if versions:
        newest = os.path.join(base_directory, str(versions[-1]))
        if _source_model(newest) == model_path:
            return newest
    return _publish_copy(model_path, base_directory, {"source_model": model_path})


def rollback(base_directory: str, to_version: Optional[int] = None) -> Tuple[int, int, str]:
    """Serves an earlier version again: publishes a copy of it as the newest version.

    Every version was blessed when it was pushed, so any of them may be served
    again; versions only ever grow, so every server that serves the newest
    version switches to it. `to_version` defaults to the newest version holding
    a different model than the one served now. Returns (the version served
    before, the version copied, the new version's path).
    """
    versions = published_versions(base_directory)
    if not versions:
        raise RollbackError(f"{base_directory}: no pushed version to roll back from")
    current = versions[-1]
    current_source = _source_model(os.path.join(base_directory, str(current)))
    if to_version is None:
        earlier = [v for v in versions[:-1]
                   if _source_model(os.path.join(base_directory, str(v))) != current_source]
        if not earlier:
            raise RollbackError(f"{base_directory}: version {current} is the only model pushed; "
                                f"there is no earlier version to roll back to")
        to_version = earlier[-1]
    if to_version not in versions:
        raise RollbackError(f"{base_directory}: no version {to_version} (versions: "
                            f"{', '.join(map(str, versions))})")
    if to_version == current:
        raise RollbackError(f"{base_directory}: version {current} is already the one served")
    source = os.path.join(base_directory, str(to_version))
    path = _publish_copy(source, base_directory, {
        "source_model": _source_model(source), "copy_of": to_version,
        "rolled_back_from": current})
    return current, to_version, path
