"""A Pusher executor whose push is atomic: it publishes through serving/versions.py.

The stock TFX Pusher copies the model file by file straight into
`<base>/<version>/`, so a server scanning the folder can see a half-written
version, and a push killed midway leaves one behind. This executor keeps the
stock component, its inputs, outputs and blessing check, and only changes how
the files land: `versions.publish` copies to a staging folder and renames it
into place. It then records the push on the PushedModel artifact as the stock
Pusher does.

A blessed model is still refused when the recall of its ScaNN index against
exact search, measured at export (`INDEX_QUALITY_FILE`), is below the Pusher's
`custom_config["min_index_recall"]`; the reason is recorded on the PushedModel
artifact as `refused_reason`.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional

from absl import logging
from tfx import types
from tfx.components.pusher import executor as pusher_executor
from tfx.dsl.io import fileio
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, proto_utils

from mtrec.serving.versions import publish
from mtrec.trainer_module.features import INDEX_QUALITY_FILE

MIN_INDEX_RECALL_KEY = "min_index_recall"
REFUSED_REASON_KEY = "refused_reason"


def index_refusal(model_path: str, min_recall: float) -> Optional[str]:
    """Why the model's index is not good enough to push, or None if it is."""
    path = os.path.join(model_path, INDEX_QUALITY_FILE)
    if not fileio.exists(path):
        return f"no index quality record at {path}"
    with fileio.open(path) as handle:
        quality = json.load(handle)
    if quality["recall_at_k"] < min_recall:
        return (f"ScaNN recall@{quality['k']} against exact search is "
                f"{quality['recall_at_k']:.4f}, below the required {min_recall:.4f}")
    return None


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
