"""`create_pipeline`: the one pipeline definition every runner executes.

CsvExampleGen -> StatisticsGen -> SchemaGen -> ExampleValidator
             \\-> Transform -> Trainer -> Evaluator (vs latest blessed) -> Pusher

Transform waits for the ExampleValidator, whose anomalies fail the run, so bad
data never reaches training. StatisticsGen, Transform and the Evaluator check
that they saw every example ExampleGen wrote (components/boundary_counts.py).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

# Not `from tfx import v1`: it also imports the Google Cloud extensions, a
# large share of the import time every run and every cached re-run pays.
from tfx.components import Pusher, SchemaGen, Trainer
from tfx.dsl.components.base import executor_spec
from tfx.dsl.components.common.resolver import Resolver
from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import (
    LatestBlessedModelStrategy)
from tfx.orchestration.pipeline import Pipeline
from tfx.proto import pusher_pb2, trainer_pb2
from tfx.types.channel import Channel
from tfx.types.standard_artifacts import Model, ModelBlessing

from mtrec.components.atomic_pusher import MIN_INDEX_RECALL_KEY, AtomicPushExecutor
from mtrec.components.boundary_counts import (CountCheckingEvaluator, CountCheckingStatisticsGen,
                                             CountCheckingTransform)
from mtrec.components.baseline_resolver import (BLESSING_KEY, CANDIDATE_KEY, MODEL_KEY,
                                                LatestBlessedOtherModelStrategy)
from mtrec.components.validation import Constraints, ValidatingExampleValidator
from mtrec.components.split_example_gen import EVAL_SPLIT, TRAIN_SPLIT, create_example_gen
from mtrec.pipeline.code_version import file_version, model_code_version
from mtrec.pipeline.config import Config
from mtrec.pipeline.gate import build_eval_config
from mtrec.serving.versions import model_base_dir


def create_pipeline(config: Config,
                    metadata_connection_config: Optional[Any] = None,
                    baseline_excludes_candidate: bool = True) -> Pipeline:
    """Builds the TFX pipeline for `config` (already validated).

    `metadata_connection_config` is the runner's choice: SQLite for the local
    runner, None where the orchestrator provides ML Metadata (Vertex, Kubeflow).
    `baseline_excludes_candidate` picks the Evaluator's baseline: the latest
    blessed model other than this run's (components/baseline_resolver.py), or
    the latest blessed model, for orchestrators that cannot give a Resolver
    this run's model alone (Kubeflow V2, Airflow).
    """
    code_version = model_code_version()
    trainer_settings = dataclasses.replace(
        config.trainer_settings(), code_version=code_version,
        items_file_version=file_version(config.data.items_file))
    example_gen = create_example_gen(config.data.ratings_dir, config.data.file_pattern,
                                     config.data.split_spec())
    statistics_gen = CountCheckingStatisticsGen(
        examples=example_gen.outputs["examples"]).with_id("StatisticsGen")
    schema_gen = SchemaGen(
        statistics=statistics_gen.outputs["statistics"], infer_feature_shape=True)
    example_validator = ValidatingExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"],
        constraints=Constraints.for_data(config.data.ratings_dir, config.data.has_ratings,
                                         config.data.rating_min, config.data.rating_max),
    ).with_id("ExampleValidator")
    transform = CountCheckingTransform(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        preprocessing_fn="mtrec.trainer_module.preprocessing.preprocessing_fn",
        custom_config={**config.side_features(), "code_version": code_version},
        # StatisticsGen has already described the input and nothing reads
        # Transform's own pre/post-transform statistics, which cost a large
        # share of its time (measured: docs/benchmarks.md).
        disable_statistics=True).with_id("Transform")
    transform.add_upstream_node(example_validator)
    trainer = Trainer(
        run_fn="mtrec.trainer_module.trainer.run_fn",
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        train_args=trainer_pb2.TrainArgs(splits=[TRAIN_SPLIT]),
        eval_args=trainer_pb2.EvalArgs(splits=[EVAL_SPLIT]),
        custom_config=trainer_settings.to_custom_config())
    if baseline_excludes_candidate:
        latest_blessed_model = Resolver(
            strategy_class=LatestBlessedOtherModelStrategy,
            **{CANDIDATE_KEY: trainer.outputs["model"], MODEL_KEY: Channel(type=Model),
               BLESSING_KEY: Channel(type=ModelBlessing)},
        ).with_id("latest_blessed_model_resolver")
    else:
        latest_blessed_model = Resolver(
            strategy_class=LatestBlessedModelStrategy,
            model=Channel(type=Model),
            model_blessing=Channel(type=ModelBlessing),
        ).with_id("latest_blessed_model_resolver")
    evaluator = CountCheckingEvaluator(
        examples=example_gen.outputs["examples"],
        example_splits=[EVAL_SPLIT],
        model=trainer.outputs["model"],
        baseline_model=latest_blessed_model.outputs["model"],
        eval_config=build_eval_config(
            config.gate, config.data.has_ratings,
            gate_top_k=trainer_settings.retrieval_weight > 0,
            gate_rmse=trainer_settings.rating_weight > 0),
        module_path="mtrec.trainer_module.evaluation").with_id("Evaluator")
    pusher = Pusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=pusher_pb2.PushDestination(
            filesystem=pusher_pb2.PushDestination.Filesystem(
                base_directory=model_base_dir(config.serving.serving_dir,
                                              config.serving.model_name))),
        custom_config={MIN_INDEX_RECALL_KEY: config.serving.min_index_recall},
        custom_executor_spec=executor_spec.ExecutorClassSpec(AtomicPushExecutor))

    return Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=config.pipeline_root,
        components=[example_gen, statistics_gen, schema_gen, example_validator, transform,
                    trainer, latest_blessed_model, evaluator, pusher],
        enable_cache=True,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=list(config.beam_args))
