"""`create_pipeline`: the one pipeline definition every runner executes.

CsvExampleGen -> StatisticsGen -> SchemaGen -> ExampleValidator (vs the previous span)
   -> the span window -> Transform -> Trainer (warm: from the last blessed model)
   -> Evaluator (vs latest blessed) -> Pusher

Transform waits for the ExampleValidator, whose anomalies (and drift) fail the
run, so bad data never reaches training. Transform, the Trainer and the
Evaluator read the span window: this run's span and the accepted spans before
it (components/span_window.py); without a span spec in the file pattern that
is this run's Examples alone. StatisticsGen, Transform and the Evaluator check
that they saw every example ExampleGen wrote (components/boundary_counts.py).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

# Not `from tfx import v1`: it also imports the Google Cloud extensions, a
# large share of the import time every run and every cached re-run pays.
from tfx.components import Pusher, SchemaGen
from tfx.dsl.components.base import executor_spec
from tfx.dsl.components.common.resolver import Resolver
from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import (
    LatestBlessedModelStrategy)
from tfx.orchestration.pipeline import Pipeline
from tfx.proto import pusher_pb2, trainer_pb2
from tfx.types.channel import Channel
from tfx.types.standard_artifacts import (ExampleAnomalies, Examples, ExampleStatistics, Model,
                                          ModelBlessing)

from mtrec.components.atomic_pusher import MIN_INDEX_RECALL_KEY, AtomicPushExecutor
from mtrec.components.boundary_counts import (CountCheckingEvaluator, CountCheckingStatisticsGen,
                                             CountCheckingTransform)
from mtrec.components.baseline_resolver import (BLESSING_KEY, CANDIDATE_KEY, MODEL_KEY,
                                                LatestBlessedOtherModelStrategy)
from mtrec.components import span_window, warm_start_resolver
from mtrec.components.validation import Constraints, DriftBounds, ValidatingExampleValidator
from mtrec.components.split_example_gen import EVAL_SPLIT, TRAIN_SPLIT, create_example_gen
from mtrec.components.window_trainer import SpanWindowTrainer
from mtrec.pipeline.code_version import file_version, model_code_version
from mtrec.pipeline.config import Config
from mtrec.pipeline.gate import build_eval_config
from mtrec.serving.versions import model_base_dir
from mtrec.trainer_module.features import ITEM_ID, USER_ID

EXAMPLE_GEN_ID = "CsvExampleGen"
STATISTICS_GEN_ID = "StatisticsGen"
EXAMPLE_VALIDATOR_ID = "ExampleValidator"


def _id_statistics_options():
    """StatisticsGen's options with spans: the ids' distributions as categories (what
    the drift check compares), whether the ids are numbers or strings."""
    import tensorflow_data_validation as tfdv
    from tensorflow_metadata.proto.v0 import schema_pb2

    schema = schema_pb2.Schema()
    for name in (USER_ID, ITEM_ID):
        feature = schema.feature.add(name=name, type=schema_pb2.INT)
        feature.int_domain.is_categorical = True
    return tfdv.StatsOptions(schema=schema)


def _accepted_spans() -> Channel:
    """Every ExampleAnomalies the validator published, in every run: one per span it
    passed. (A new channel for each resolver: the compiler keys inputs by channel.)"""
    return _every_run(ExampleAnomalies, EXAMPLE_VALIDATOR_ID)


def _every_run(artifact_type, producer_id: str) -> Channel:
    """The artifacts of `artifact_type` `producer_id` made in any run of the pipeline.

    Without an output key: the compiler keys a channel with both by producer and
    key alone, so it would merge it with the producer's output channel for this run.
    """
    return Channel(type=artifact_type, producer_component_id=producer_id)


def create_pipeline(config: Config,
                    metadata_connection_config: Optional[Any] = None,
                    baseline_excludes_candidate: bool = True,
                    custom_strategies: bool = True) -> Pipeline:
    """Builds the TFX pipeline for `config` (already validated).

    `metadata_connection_config` is the runner's choice: SQLite for the local
    runner, None where the orchestrator provides ML Metadata (Vertex, Kubeflow).
    `baseline_excludes_candidate` picks the Evaluator's baseline: the latest
    blessed model other than this run's (components/baseline_resolver.py), or
    the latest blessed model, for orchestrators that cannot give a Resolver
    this run's model alone (Kubeflow V2, Airflow). `custom_strategies` False
    (Kubeflow V2, which compiles only TFX's own strategies) leaves out the span
    window and the drift check, so each run uses its own span alone, and warm
    starts from the latest blessed model.
    """
    code_version = model_code_version()
    trainer_settings = dataclasses.replace(
        config.trainer_settings(), code_version=code_version,
        items_file_version=file_version(config.data.items_file))
    example_gen = create_example_gen(config.data.ratings_dir, config.data.file_pattern,
                                     config.data.split_spec())
    statistics_gen = CountCheckingStatisticsGen(
        examples=example_gen.outputs["examples"],
        stats_options=_id_statistics_options() if config.data.uses_spans() else None,
    ).with_id(STATISTICS_GEN_ID)
    schema_gen = SchemaGen(
        statistics=statistics_gen.outputs["statistics"], infer_feature_shape=True)
    resolvers = []
    previous_statistics = None
    if custom_strategies:
        previous_span = Resolver(
            strategy_class=span_window.PreviousSpanStatisticsStrategy,
            **{span_window.THIS_RUN_KEY: statistics_gen.outputs["statistics"],
               span_window.STATISTICS_KEY: _every_run(ExampleStatistics, STATISTICS_GEN_ID),
               span_window.ANOMALIES_KEY: _accepted_spans()},
        ).with_id("previous_span_statistics_resolver")
        previous_statistics = previous_span.outputs[span_window.STATISTICS_KEY]
        resolvers.append(previous_span)
    example_validator = ValidatingExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"],
        constraints=Constraints.for_data(config.data.ratings_dir, config.data.has_ratings,
                                         config.data.rating_min, config.data.rating_max),
        drift=DriftBounds(**dataclasses.asdict(config.drift)),
        previous_statistics=previous_statistics,
    ).with_id(EXAMPLE_VALIDATOR_ID)
    window = example_gen.outputs["examples"]
    if custom_strategies:
        span_window_resolver = Resolver(
            strategy_class=span_window.RollingSpanWindowStrategy,
            config={"num_spans": config.data.window_spans},
            **{span_window.THIS_RUN_KEY: example_gen.outputs["examples"],
               span_window.EXAMPLES_KEY: _every_run(Examples, EXAMPLE_GEN_ID),
               span_window.ANOMALIES_KEY: _accepted_spans()},
        ).with_id("span_window_resolver")
        # After this run's validator, whose anomalies artifact accepts this run's span.
        span_window_resolver.add_upstream_node(example_validator)
        window = span_window_resolver.outputs[span_window.EXAMPLES_KEY]
        resolvers.append(span_window_resolver)
    transform = CountCheckingTransform(
        examples=window,
        schema=schema_gen.outputs["schema"],
        preprocessing_fn="mtrec.trainer_module.preprocessing.preprocessing_fn",
        custom_config={**config.side_features(), "code_version": code_version},
        # StatisticsGen has already described the input and nothing reads
        # Transform's own pre/post-transform statistics, which cost a large
        # share of its time (measured: docs/benchmarks.md).
        disable_statistics=True).with_id("Transform")
    transform.add_upstream_node(example_validator)
    base_model = None
    if config.model.warm_start:
        if custom_strategies:
            warm_start_model = Resolver(
                strategy_class=warm_start_resolver.WarmStartModelStrategy,
                **{warm_start_resolver.EXAMPLES_KEY: example_gen.outputs["examples"],
                   warm_start_resolver.MODEL_KEY: Channel(type=Model),
                   warm_start_resolver.BLESSING_KEY: Channel(type=ModelBlessing)},
            ).with_id("warm_start_model_resolver")
        else:
            warm_start_model = Resolver(
                strategy_class=LatestBlessedModelStrategy,
                model=Channel(type=Model), model_blessing=Channel(type=ModelBlessing),
            ).with_id("warm_start_model_resolver")
        base_model = warm_start_model.outputs["model"]
        resolvers.append(warm_start_model)
    trainer = SpanWindowTrainer(
        run_fn="mtrec.trainer_module.trainer.run_fn",
        base_model=base_model,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        train_args=trainer_pb2.TrainArgs(splits=[TRAIN_SPLIT]),
        eval_args=trainer_pb2.EvalArgs(splits=[EVAL_SPLIT]),
        custom_config=trainer_settings.to_custom_config()).with_id("Trainer")
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
        examples=window,
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
        # (TFX orders the nodes by their dependencies.)
        components=[example_gen, statistics_gen, schema_gen, example_validator, *resolvers,
                    transform, trainer, latest_blessed_model, evaluator, pusher],
        enable_cache=True,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=list(config.beam_args))
