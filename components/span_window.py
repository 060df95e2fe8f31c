"""Which spans a run uses: the span it read, and the accepted spans before it.

With a span spec in the file pattern (`span-{SPAN}/*.csv`), TFX's ExampleGen
driver reads only the newest span and sets `span` on its Examples, and
StatisticsGen and the ExampleValidator copy it to their artifacts. A span is
*accepted* once the ExampleValidator has passed it: the validator's
ExampleAnomalies artifact exists only then (it fails the run otherwise), and
it names the Examples and statistics it passed (`EXAMPLES_ID_PROPERTY`,
`STATISTICS_ID_PROPERTY`). Linking by artifact id, not by span number, keeps
a span that was re-read with other files, and refused, out of later windows.

Two resolvers use this, each run after the step of this run it anchors on:

- `RollingSpanWindowStrategy`: what Transform, the Trainer and the Evaluator
  read. This run's Examples and the newest accepted Examples of each of the
  up to `num_spans - 1` earlier spans; a span refused for drift is never in it.
- `PreviousSpanStatisticsStrategy`: what the ExampleValidator compares the
  new span with for drift. The statistics of the newest accepted span before
  this run's (none for the first span).

Each strategy resolves only the key its consumers read; the anchor and the
anomalies resolve to nothing, since a launcher records every resolved
artifact as an output (Airflow's refuses one artifact under two keys, and
every run's anomalies recorded on every run would grow without end).

TFX's SpanRangeStrategy resolves by span number alone, and so would take a
refused span, or two versions of one. The local runner hands these strategies
this run's artifact alone. Airflow's launchers hand them every run's, and then
the newest by (span, id) stands for this run's. Kubeflow V2 compiles only
TFX's built-in strategies, so it runs without them (pipeline/pipeline.py).
"""

from __future__ import annotations

from typing import Dict, List, Optional

import ml_metadata as mlmd
from tfx import types
from tfx.components.example_gen import utils as example_gen_utils
from tfx.dsl.components.common.resolver import ResolverStrategy

EXAMPLES_ID_PROPERTY = "examples_id"  # on ExampleStatistics and ExampleAnomalies
STATISTICS_ID_PROPERTY = "statistics_id"  # on ExampleAnomalies

THIS_RUN_KEY = "this_run"  # the anchor: this run's Examples or ExampleStatistics
EXAMPLES_KEY = "examples"  # every ExampleGen Examples of the pipeline; resolved: the window
STATISTICS_KEY = "statistics"  # every StatisticsGen statistics; resolved: the previous span's
ANOMALIES_KEY = "anomalies"  # every ExampleValidator ExampleAnomalies: the accepted spans


def span_of(artifact: types.Artifact) -> int:
    """The artifact's span (0 for data read without a span spec).

    ExampleGen's driver sets it as a custom property of the Examples; the
    statistics and anomalies carry it as their `span` property, which
    StatisticsGen here copies from that custom property (the stock one copies
    the Examples' `span` property, which ExampleGen leaves at 0)."""
    name = example_gen_utils.SPAN_PROPERTY_NAME
    if artifact.has_custom_property(name):
        text = artifact.get_string_custom_property(name)  # older TFX stored it as a string
        return int(text) if text else artifact.get_int_custom_property(name)
    return artifact.span if name in artifact.PROPERTIES else 0


def _newest(artifacts: List[types.Artifact]) -> types.Artifact:
    return max(artifacts, key=lambda artifact: (span_of(artifact), artifact.id))


def _anchor(this_run: List[types.Artifact], accepted_ids: Optional[set] = None
            ) -> Optional[types.Artifact]:
    """This run's artifact: the only one given, or (Airflow, which gives every run's) the
    newest, among the accepted ones when `accepted_ids` is given."""
    if len(this_run) <= 1:
        return this_run[0] if this_run else None
    if accepted_ids is not None:
        this_run = [artifact for artifact in this_run if artifact.id in accepted_ids] or this_run
    return _newest(this_run)


def accepted_ids(anomalies: List[types.Artifact], key: str) -> set:
    """The ids (of Examples or statistics, by `key`) the ExampleValidator passed."""
    return {artifact.get_int_custom_property(key) for artifact in anomalies
            if artifact.has_custom_property(key)}


def rolling_window(this_run: types.Artifact, examples: List[types.Artifact],
                   anomalies: List[types.Artifact], num_spans: int) -> List[types.Artifact]:
    """`this_run` and, newest span first, the newest accepted Examples of each of the up to
    `num_spans - 1` spans before it."""
    accepted = accepted_ids(anomalies, EXAMPLES_ID_PROPERTY)
    newest_per_span: Dict[int, types.Artifact] = {}
    for artifact in examples:
        span = span_of(artifact)
        if artifact.id not in accepted or span >= span_of(this_run):
            continue
        if span not in newest_per_span or artifact.id > newest_per_span[span].id:
            newest_per_span[span] = artifact
    earlier = [newest_per_span[span] for span in sorted(newest_per_span, reverse=True)]
    return [this_run] + earlier[:num_spans - 1]


def previous_statistics(this_run: types.Artifact, statistics: List[types.Artifact],
                        anomalies: List[types.Artifact]) -> List[types.Artifact]:
    """[the statistics of the newest accepted span before this run's], or []."""
    accepted = accepted_ids(anomalies, STATISTICS_ID_PROPERTY)
    earlier = [artifact for artifact in statistics
               if artifact.id in accepted and span_of(artifact) < span_of(this_run)]
    return [_newest(earlier)] if earlier else []


class RollingSpanWindowStrategy(ResolverStrategy):
    """Resolves EXAMPLES_KEY to this run's Examples and the accepted spans before it."""

    def __init__(self, num_spans: int):
        if num_spans < 1:
            raise ValueError(f"num_spans must be at least 1, got {num_spans}")
        self._num_spans = num_spans

    def resolve_artifacts(self, store: mlmd.MetadataStore,
                          input_dict: Dict[str, List[types.Artifact]]
                          ) -> Optional[Dict[str, List[types.Artifact]]]:
        anomalies = input_dict.get(ANOMALIES_KEY, [])
        this_run = _anchor(input_dict.get(THIS_RUN_KEY, []),
                           accepted_ids(anomalies, EXAMPLES_ID_PROPERTY))
        if this_run is None:
            return None
        window = rolling_window(this_run, input_dict.get(EXAMPLES_KEY, []), anomalies,
                                self._num_spans)
        return {THIS_RUN_KEY: [], EXAMPLES_KEY: window, ANOMALIES_KEY: []}


class PreviousSpanStatisticsStrategy(ResolverStrategy):
    """Resolves STATISTICS_KEY to the newest accepted span's statistics before this run's."""

    def resolve_artifacts(self, store: mlmd.MetadataStore,
                          input_dict: Dict[str, List[types.Artifact]]
                          ) -> Optional[Dict[str, List[types.Artifact]]]:
        this_run = _anchor(input_dict.get(THIS_RUN_KEY, []))
        if this_run is None:
            return None
        return {THIS_RUN_KEY: [],
                STATISTICS_KEY: previous_statistics(this_run, input_dict.get(STATISTICS_KEY, []),
                                                    input_dict.get(ANOMALIES_KEY, [])),
                ANOMALIES_KEY: []}
