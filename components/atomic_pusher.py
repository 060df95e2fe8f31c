"""A Pusher executor whose push is atomic: copy to a staging folder, then rename.

The stock TFX Pusher copies the model file by file straight into
`<base>/<version>/`, so a server scanning the folder can see a half-written
version, and a push killed midway leaves one behind. This executor keeps the
stock component, its inputs, outputs and blessing check, and changes only how
the files land:

  1. copy the model to `<base>/.staging-<version>-<random>/`;
  2. rename it to `<base>/<version>/` (atomic on a local or POSIX filesystem);
  3. record the push on the PushedModel artifact as the stock Pusher does.

`rollback` serves an earlier version again by publishing a copy of it the
same way, as the newest version (`mtrec rollback`).

Versions are Unix timestamps, strictly increasing even when two pushes fall in
the same second. Stale staging folders from an interrupted push are removed.
Each version records the model artifact it came from in
`assets.extra/push_info.json` (TF Serving's folder for extra files); when the
newest version already holds the same model, as after a re-run that changed
nothing, no duplicate version is published.

A blessed model is still refused when the recall of its ScaNN index against
exact search, measured at export (`assets.extra/index_quality.json`), is below
the Pusher's `custom_config["min_index_recall"]`; the reason is recorded on the
PushedModel artifact as `refused_reason`.
"""

from __future__ import annotations

import json
import os
import time
import uuid

from absl import logging
from typing import Any, Dict, List, Optional, Tuple

from tfx import types
from tfx.components.pusher import executor as pusher_executor
from tfx.dsl.io import fileio
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, proto_utils

from mtrec.pipeline.errors import UserFacingError
from mtrec.serving.versions import published_versions

STAGING_PREFIX = ".staging-"
PUSH_INFO = os.path.join("assets.extra", "push_info.json")
INDEX_QUALITY = os.path.join("assets.extra", "index_quality.json")
MIN_INDEX_RECALL_KEY = "min_index_recall"
REFUSED_REASON_KEY = "refused_reason"


def index_refusal(model_path: str, min_recall: float) -> str | None:
    """Why the model's index is not good enough to push, or None if it is."""
    path = os.path.join(model_path, INDEX_QUALITY)
    if not fileio.exists(path):
        return f"no index quality record at {path}"
    with fileio.open(path) as handle:
        quality = json.load(handle)
    if quality["recall_at_k"] < min_recall:
        return (f"ScaNN recall@{quality['k']} against exact search is "
                f"{quality['recall_at_k']:.4f}, below the required {min_recall:.4f}")
    return None


def read_push_info(version_dir: str) -> Dict[str, Any]:
    """What a published version records about itself (`assets.extra/push_info.json`)."""
    info = os.path.join(version_dir, PUSH_INFO)
    if not fileio.exists(info):
        return {}
    with fileio.open(info) as handle:
        return json.load(handle)


def _source_model(version_dir: str) -> str | None:
    """The model URI a published version was copied from, if recorded."""
    return read_push_info(version_dir).get("source_model")


def next_version(base_directory: str) -> int:
    """Now, as a Unix timestamp, or one past the newest version if that is later."""
    return max([int(time.time())] + [v + 1 for v in published_versions(base_directory)])


def _publish_copy(source_dir: str, base_directory: str, info: Dict[str, Any]) -> str:
    """Copies `source_dir` to a staging folder, writes `info` (plus the version) as its
    push record, and renames it to the next version; returns the version's path."""
    fileio.makedirs(base_directory)
    for name in fileio.listdir(base_directory):
        if name.startswith(STAGING_PREFIX):
            fileio.rmtree(os.path.join(base_directory, name))
    version = next_version(base_directory)
    staging = os.path.join(base_directory, f"{STAGING_PREFIX}{version}-{uuid.uuid4().hex[:8]}")
    final = os.path.join(base_directory, str(version))
    io_utils.copy_dir(source_dir, staging)
    fileio.makedirs(os.path.dirname(os.path.join(staging, PUSH_INFO)))
    with fileio.open(os.path.join(staging, PUSH_INFO), "w") as handle:
        json.dump({**info, "version": version}, handle)
    fileio.rename(staging, final)
    return final


def publish(model_path: str, base_directory: str) -> str:
    """Copies `model_path` to a new version under `base_directory`; returns its path.

    If the newest version was published from the same `model_path`, returns
    that version's path instead of publishing a duplicate.
    """
    versions = published_versions(base_directory)
    if versions:
        newest = os.path.join(base_directory, str(versions[-1]))
        if _source_model(newest) == model_path:
            return newest
    return _publish_copy(model_path, base_directory, {"source_model": model_path})


class RollbackError(UserFacingError, ValueError):
    """There is no earlier version to roll back to, or the one asked for does not exist."""


def rollback(base_directory: str, to_version: Optional[int] = None) -> Tuple[int, int, str]:
    """Serves an earlier version again: publishes a copy of it as the newest version.

    Every version was blessed when it was pushed, so any of them may be served
    again. Versions only ever grow, so any server that serves the newest
    version (TF Serving, `mtrec serve`, `mtrec recommend`) switches to it, and
    the copy lands with one rename like every push. `to_version` defaults to
    the newest version holding a different model than the one served now.
    Returns (the version served before, the version copied, the new version's path).
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


class AtomicPushExecutor(pusher_executor.Executor):
    """The stock Pusher, publishing each version with one rename."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        model_push = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.PUSHED_MODEL_KEY])
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(model_push)
            return
        model_path = self.GetModelPath(input_dict)
        custom_config = json.loads(exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY)
                                   or "null") or {}
        refusal = index_refusal(model_path, float(custom_config.get(MIN_INDEX_RECALL_KEY, 0.0)))
        if refusal:
            logging.error("not pushing %s: %s", model_path, refusal)
            self._MarkNotPushed(model_push)
            model_push.set_string_custom_property(REFUSED_REASON_KEY, refusal)
            return
        destination = pusher_pb2.PushDestination()
        proto_utils.json_to_proto(
            exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination)
        if destination.WhichOneof("destination") != "filesystem":
            raise ValueError("AtomicPushExecutor pushes to a filesystem destination only, "
                             f"got {destination.WhichOneof('destination')!r}")
        serving_path = publish(model_path, destination.filesystem.base_directory)
        io_utils.copy_dir(model_path, model_push.uri)
        self._MarkPushed(model_push, pushed_destination=serving_path,
                         pushed_version=os.path.basename(serving_path))
