"""The Trainer leaves out the placeholder Airflow's launcher hands it beside
Transform's per-span copies, and nothing else."""

from tfx.types import artifact_utils, standard_artifacts

from mtrec.components.window_trainer import materialised


def _examples(uri: str, splits=("train", "eval")):
    artifact = standard_artifacts.Examples()
    artifact.uri = uri
    if splits:
        artifact.split_names = artifact_utils.encode_split_names(list(splits))
    return artifact


def test_the_placeholder_above_the_copies_is_left_out():
    placeholder = _examples("/root/Transform/transformed_examples/21", splits=())
    copies = [_examples("/root/Transform/transformed_examples/21/0"),
              _examples("/root/Transform/transformed_examples/21/1")]
    assert materialised([placeholder, *copies]) == copies


def test_an_artifact_without_splits_and_nothing_beneath_it_is_kept_for_tfx_to_refuse():
    lone = _examples("/root/Transform/transformed_examples/22", splits=())
    sibling = _examples("/root/Transform/transformed_examples/221")
    assert materialised([lone, sibling]) == [lone, sibling]
