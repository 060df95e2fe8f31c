"""Nothing lost at a component boundary: each check fails, naming both counts, when
a record goes missing between ExampleGen and the component that reads its output."""

import os
import shutil

import pytest
import tensorflow as tf
from tfx.types import artifact_utils, standard_artifacts

from mtrec.components import boundary_counts, split_example_gen
from mtrec.components.boundary_counts import (CountCheckingStatisticsGenExecutor,
                                              RecordsLostError)
from mtrec.pipeline.config import DataConfig

HEADER = "user_id,item_id,rating,timestamp\n"


def _example_gen(tmp_path, rows: int = 300) -> standard_artifacts.Examples:
    """The real ExampleGen executor over `rows` distinct ratings."""
    ratings = tmp_path / "ratings"
    ratings.mkdir()
    (ratings / "r.csv").write_text(HEADER + "".join(
        f"u{i % 37},i{i},{1 + i % 5},{1_700_000_000 + i}\n" for i in range(rows)))
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "examples")
    component = split_example_gen.create_example_gen(str(ratings), "*.csv",
                                                     DataConfig().split_spec())
    split_example_gen.Executor().Do({}, {"examples": [examples]}, component.exec_properties)
    return examples


def _drop_last_record(artifact, split: str) -> None:
    """The deliberately lossy stage: one record of `split` vanishes from its last shard."""
    folder = artifact_utils.get_split_uri([artifact], split)
    shard = sorted(tf.io.gfile.glob(os.path.join(folder, "*.gz")))[-1]
    records = [r.numpy() for r in tf.data.TFRecordDataset(shard, compression_type="GZIP")]
    with tf.io.TFRecordWriter(shard, tf.io.TFRecordOptions(compression_type="GZIP")) as writer:
        for record in records[:-1]:
            writer.write(record)


def _statistics_gen(examples, uri: str) -> standard_artifacts.ExampleStatistics:
    statistics = standard_artifacts.ExampleStatistics()
    statistics.uri = uri
    CountCheckingStatisticsGenExecutor().Do(
        {"examples": [examples]}, {"statistics": [statistics]}, {"exclude_splits": "[]"})
    return statistics


def test_example_gen_records_what_it_wrote_per_split(tmp_path):
    examples = _example_gen(tmp_path)
    train = boundary_counts.written_count(examples, "train")
    eval_ = boundary_counts.written_count(examples, "eval")
    assert train + eval_ == 300 and eval_ > 0
    assert train == boundary_counts.count_split_records(examples, "train")
    assert examples.get_int_custom_property("records_eval") == eval_


def test_statistics_gen_passes_on_whole_data_and_fails_when_a_record_is_lost(tmp_path):
    examples = _example_gen(tmp_path)
    _statistics_gen(examples, str(tmp_path / "statistics"))  # nothing lost: no error
    eval_ = boundary_counts.written_count(examples, "eval")
    _drop_last_record(examples, "eval")
    with pytest.raises(RecordsLostError, match=(
            f"StatisticsGen saw {eval_ - 1:,} records of the eval split, but ExampleGen wrote "
            f"{eval_:,}: 1 records were lost")):
        _statistics_gen(examples, str(tmp_path / "statistics-after-loss"))


def test_the_count_falls_back_to_the_files_for_examples_without_a_record(tmp_path):
    examples = _example_gen(tmp_path)
    bare = standard_artifacts.Examples()
    bare.uri, bare.split_names = examples.uri, examples.split_names
    assert boundary_counts.written_count(bare, "eval") == examples.get_int_custom_property(
        "records_eval")


# The Transform and Evaluator checks, on the real outputs of the session's sample run.

def _artifact(sample_run, component: str, output: str, artifact_type):
    """The artifact `component` wrote as `output` in the sample run, with its
    integer custom properties as ML Metadata recorded them."""
    from mtrec.pipeline.config import metadata_path
    from mtrec.pipeline.runs.results import open_store

    folder = sample_run.pipeline_root / component / output
    (version,) = os.listdir(folder)
    artifact = artifact_type()
    artifact.uri = str(folder / version)
    (recorded,) = open_store(metadata_path(str(sample_run.pipeline_root))
                             ).get_artifacts_by_uri(artifact.uri)
    for name, value in recorded.custom_properties.items():
        if value.HasField("int_value"):
            artifact.set_int_custom_property(name, value.int_value)
    splits = sorted(name[len("Split-"):] for name in os.listdir(artifact.uri)
                    if name.startswith("Split-"))
    if splits:  # Examples have splits; a ModelEvaluation has none
        artifact.split_names = artifact_utils.encode_split_names(splits)
    return artifact


@pytest.mark.e2e
def test_transform_check_passes_on_the_run_and_fails_on_a_lossy_copy(sample_run, tmp_path):
    assert sample_run.exit_code == 0, sample_run.output
    examples = _artifact(sample_run, "CsvExampleGen", "examples", standard_artifacts.Examples)
    transformed = _artifact(sample_run, "Transform", "transformed_examples",
                            standard_artifacts.Examples)
    assert examples.has_custom_property("records_train")
    boundary_counts.check_transformed([examples], [transformed], ["train", "eval"])
    copy = standard_artifacts.Examples()  # the session's run stays whole
    copy.uri, copy.split_names = str(tmp_path / "transformed"), transformed.split_names
    shutil.copytree(transformed.uri, copy.uri)
    _drop_last_record(copy, "train")
    train = boundary_counts.written_count(examples, "train")
    with pytest.raises(RecordsLostError, match=f"Transform saw {train - 1:,} records of the "
                                               f"train split, but ExampleGen wrote {train:,}"):
        boundary_counts.check_transformed([examples], [copy], ["train", "eval"])


@pytest.mark.e2e
def test_evaluator_check_counts_the_eval_split_and_fails_on_a_missing_example(sample_run):
    assert sample_run.exit_code == 0, sample_run.output
    examples = _artifact(sample_run, "CsvExampleGen", "examples", standard_artifacts.Examples)
    evaluation = _artifact(sample_run, "Evaluator", "evaluation",
                           standard_artifacts.ModelEvaluation)
    eval_ = boundary_counts.written_count(examples, "eval")
    assert boundary_counts.evaluated_count(evaluation.uri) == eval_
    boundary_counts.check_evaluated([examples], evaluation.uri, ["eval"])
    # ExampleGen wrote one example more than the Evaluator saw: one lost between them.
    examples.set_int_custom_property("records_eval", eval_ + 1)
    with pytest.raises(RecordsLostError, match=f"The Evaluator saw {eval_:,} records of the "
                                               f"eval split, but ExampleGen wrote {eval_ + 1:,}"):
        boundary_counts.check_evaluated([examples], evaluation.uri, ["eval"])
