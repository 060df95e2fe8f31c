"""Nothing lost at any component boundary: StatisticsGen, Transform and the
Evaluator each check that they saw every record ExampleGen wrote.

ExampleGen records how many examples it wrote per split, counted outside Beam
(`record_counts.py`), as custom properties of its Examples artifact. Each
executor below is the stock one followed by a check of its own output against
those counts; a difference fails the run with both numbers, on every runner,
so nothing downstream trains on, evaluates or pushes what was left.

  StatisticsGen  examples in each split's statistics = ExampleGen's count
  Transform      transformed records in each split (counted outside Beam) = ExampleGen's
                 count, for each span it read (one Examples artifact each)
  Evaluator      the overall `example_count` of the candidate = the eval split's count,
                 summed over the spans it read

StatisticsGen also records which Examples its statistics describe
(`span_window.EXAMPLES_ID_PROPERTY`, and their span), so the ExampleValidator
can name the Examples it passed.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterable, List, Tuple

from tfx import types
from tfx.components import Evaluator, StatisticsGen, Transform
from tfx.components.evaluator import executor as evaluator_executor
from tfx.components.statistics_gen import executor as statistics_gen_executor
from tfx.components.transform import executor as transform_executor
from tfx.dsl.components.base import executor_spec
from tfx.types import artifact_utils, standard_component_specs

from mtrec.components import record_counts
from mtrec.components.span_window import EXAMPLES_ID_PROPERTY, span_of
from mtrec.pipeline.runtime import beam_tfrecord

RECORDS_PROPERTY = "records_{split}"  # an int custom property of ExampleGen's Examples artifact


class RecordsLostError(RuntimeError):
    """A component saw fewer (or more) records than ExampleGen wrote."""


def record_examples_count(examples: types.Artifact, split: str, count: int) -> None:
    """ExampleGen's side: how many examples it wrote to `split`."""
    examples.set_int_custom_property(RECORDS_PROPERTY.format(split=split), count)


def count_split_records(artifact: types.Artifact, split: str) -> int:
    """Records in a split's gzipped TFRecord shards, counted outside Beam."""
    return record_counts.count_gzip_tfrecord_shards(
        os.path.join(artifact_utils.get_split_uri([artifact], split), "*.gz"))


def written_count(examples: types.Artifact, split: str) -> int:
    """What ExampleGen recorded for `split`; counted from the files when it recorded
    nothing (Examples made before this check existed)."""
    name = RECORDS_PROPERTY.format(split=split)
    if examples.has_custom_property(name):
        return examples.get_int_custom_property(name)
    return count_split_records(examples, split)


def check_count(component: str, split: str, seen: int, written: int) -> None:
    """Raises RecordsLostError unless `seen` equals `written`."""
    if seen != written:
        raise RecordsLostError(
            f"{component} saw {seen:,} records of the {split} split, but ExampleGen wrote "
            f"{written:,}: {abs(written - seen):,} records were "
            f"{'lost' if seen < written else 'added'} between them, in the Beam runner or on "
            f"the filesystem. Nothing after {component} ran.")


def _splits(artifact: types.Artifact) -> List[str]:
    return artifact_utils.decode_split_names(artifact.split_names)


def check_statistics(examples: types.Artifact, statistics: types.Artifact) -> None:
    """StatisticsGen's examples per split against ExampleGen's (the pipeline
    computes statistics over every example: no sampling)."""
    import tensorflow_data_validation as tfdv

    for split in _splits(statistics):
        path = os.path.join(artifact_utils.get_split_uri([statistics], split), "FeatureStats.pb")
        seen = tfdv.load_stats_binary(path).datasets[0].num_examples
        check_count("StatisticsGen", split, seen, written_count(examples, split))


def check_transformed(examples: List[types.Artifact], transformed: List[types.Artifact],
                      splits: Iterable[str]) -> None:
    """Transform's records per split against ExampleGen's, for each input Examples
    artifact and the transformed one Transform made of it (in the same order)."""
    if len(examples) != len(transformed):
        raise RecordsLostError(f"Transform read {len(examples)} Examples artifacts but wrote "
                               f"{len(transformed)} transformed ones")
    splits = list(splits)
    for source, target in zip(examples, transformed):
        for split in splits:
            check_count("Transform", split, count_split_records(target, split),
                        written_count(source, split))


def overall_metrics(evaluation_uri: str) -> Tuple[Dict[str, float], Dict[str, float]]:
    """(candidate, baseline): each model's overall-slice metrics in a TFMA
    evaluation, by name; changes against the baseline are left out."""
    import tensorflow_model_analysis as tfma

    candidate: Dict[str, float] = {}
    baseline: Dict[str, float] = {}
    for metrics in tfma.load_metrics(evaluation_uri):
        if metrics.slice_key.single_slice_keys:
            continue
        for item in metrics.metric_keys_and_values:
            if item.key.is_diff:
                continue
            target = baseline if item.key.model_name == "baseline" else candidate
            target[item.key.name] = item.value.double_value.value
    return candidate, baseline


def evaluated_count(evaluation_uri: str) -> int:
    """The candidate model's overall-slice `example_count` in a TFMA evaluation."""
    candidate, _ = overall_metrics(evaluation_uri)
    if "example_count" not in candidate:
        raise RecordsLostError(f"{evaluation_uri}: the evaluation has no overall example_count")
    return int(candidate["example_count"])


def check_evaluated(examples: List[types.Artifact], evaluation_uri: str,
                    splits: List[str]) -> None:
    """The Evaluator's overall example_count against the splits it evaluated, in every
    Examples artifact (span) it read."""
    written = sum(written_count(artifact, split) for artifact in examples for split in splits)
    check_count("The Evaluator", "+".join(splits), evaluated_count(evaluation_uri), written)


def _single(artifacts: Dict[str, List[types.Artifact]], key: str) -> types.Artifact:
    return artifact_utils.get_single_instance(artifacts[key])


class CountCheckingStatisticsGenExecutor(statistics_gen_executor.Executor):
    """The stock StatisticsGen, then `check_statistics`. Its TFRecords are read
    with TensorFlow's reader (pipeline/runtime/beam_tfrecord.py)."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
        beam_tfrecord.install()
        super().Do(input_dict, output_dict, exec_properties)
        examples = _single(input_dict, standard_component_specs.EXAMPLES_KEY)
        statistics = _single(output_dict, standard_component_specs.STATISTICS_KEY)
        check_statistics(examples, statistics)
        statistics.set_int_custom_property(EXAMPLES_ID_PROPERTY, examples.id)
        statistics.span = span_of(examples)


class CountCheckingTransformExecutor(transform_executor.Executor):
    """The stock Transform, then `check_transformed` over every split it wrote. Its TFRecords are read
    with TensorFlow's reader (pipeline/runtime/beam_tfrecord.py)."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
        beam_tfrecord.install()
        super().Do(input_dict, output_dict, exec_properties)
        # One transformed artifact per input Examples artifact (TFX replicates the output).
        transformed = output_dict[standard_component_specs.TRANSFORMED_EXAMPLES_KEY]
        check_transformed(input_dict[standard_component_specs.EXAMPLES_KEY], transformed,
                          _splits(transformed[0]))


class CountCheckingEvaluatorExecutor(evaluator_executor.Executor):
    """The stock Evaluator, then the eval split's count against `example_count`. Its TFRecords are read
    with TensorFlow's reader (pipeline/runtime/beam_tfrecord.py)."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
        beam_tfrecord.install()
        super().Do(input_dict, output_dict, exec_properties)
        examples = input_dict[standard_component_specs.EXAMPLES_KEY]
        evaluation = _single(output_dict, standard_component_specs.EVALUATION_KEY)
        splits = json.loads(exec_properties.get(standard_component_specs.EXAMPLE_SPLITS_KEY)
                            or "null") or ["eval"]  # TFX's default when none is given
        check_evaluated(examples, evaluation.uri, splits)


class CountCheckingStatisticsGen(StatisticsGen):
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(CountCheckingStatisticsGenExecutor)


class CountCheckingTransform(Transform):
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(CountCheckingTransformExecutor)


class CountCheckingEvaluator(Evaluator):
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(CountCheckingEvaluatorExecutor)
