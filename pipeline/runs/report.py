"""`mtrec report RUN -o report.html`: one self-contained HTML page per run.

Everything comes from what the run recorded (ML Metadata and its artifacts):
the data statistics StatisticsGen computed with TFDV, ExampleValidator's
anomalies, the Trainer's per-epoch losses (`training_history.json` beside its
TensorBoard logs), the evaluation TFMA computed overall and per slice (user
activity, item popularity: trainer_module/slices.py), the gate's decision,
and recommendations with titles from the run's model. Plots are matplotlib
PNGs inlined as base64, so the page needs no network and no other file.

TFDV's own visualisation (`tfdv.utils.display_util.get_statistics_html`)
loads Facets from the web, which a closed network or an archived report
cannot; the statistics are therefore rendered here as tables and histograms.
"""

from __future__ import annotations

import base64
import datetime
import html
import io
import math
import os
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from mtrec.pipeline.runs import results
from mtrec.pipeline.runs.results import (INTEGER_METRICS, RunResult, describe_split, list_runs,
                                         naive_beside, read_run)
from mtrec.trainer_module.features import RMSE_METRIC
from mtrec.trainer_module.slices import SLICE_FEATURES

EXAMPLE_USERS = 3
EXAMPLE_K = 10
_SLICE_METRICS = ("example_count", "top_10_accuracy_seen_excluded",
                  "top_100_accuracy_seen_excluded", RMSE_METRIC)

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; margin: .8em 0; font-size: .92em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.pass { color: #187a18; font-weight: bold; } .fail { color: #b31b1b; font-weight: bold; }
.note { color: #555; font-size: .9em; } img.plot { max-width: 100%; display: block; margin: .5em 0; }
.grid { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _number(value: Optional[float], integer: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.0f}" if integer else f"{value:.4f}"


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], numeric: Sequence[int] = (),
           css: str = "") -> str:
    out = [f'<table class="{css}"><thead><tr>'
           + "".join(f"<th>{_e(h)}</th>" for h in headers) + "</tr></thead><tbody>"]
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            klass = ' class="num"' if i in numeric else ""
            cells.append(f"<td{klass}>{cell}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    return "\n".join(out) + "</tbody></table>"


def _figure_png(figure) -> str:
    """A matplotlib figure as an inline <img> (base64 PNG); closes the figure."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    plt.close(figure)
    data = base64.b64encode(buffer.getvalue()).decode()
    return f'<img class="plot" alt="plot" src="data:image/png;base64,{data}">'


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# -- data -----------------------------------------------------------------------------------

def _statistics(result: RunResult) -> List[Tuple[str, Any]]:
    """[(split, DatasetFeatureStatistics)] from StatisticsGen's artifact."""
    import tensorflow_data_validation as tfdv

    from mtrec.pipeline.runs.results import split_dirs

    uri = result.artifact_uris.get(results.STATISTICS)
    if not uri:
        return []
    return [(split, tfdv.load_stats_binary(os.path.join(folder, "FeatureStats.pb")).datasets[0])
            for split, folder in split_dirs(uri).items()]


def _feature_name(feature) -> str:
    return ".".join(feature.path.step) if feature.path.step else feature.name


def _data_section(result: RunResult) -> str:
    parts = ['<h2 id="data">Data</h2>']
    if result.data:
        parts.append(_table(["split", "interactions", "users", "items"],
                            [(r.split, _number(r.interactions, True), _number(r.users, True),
                              _number(r.items, True)) for r in result.data],
                            numeric=(1, 2, 3), css="counts"))
    if result.split:
        parts.append(f"<p>Split: {_e(describe_split(result.split))}</p>")
    if result.uses_spans:
        parts.append(f"<p>Spans: {_e(result.spans_text())}</p>")
    if result.drift_accepted:
        parts.append(f"<p>Drift accepted (drift.accept): {_e(result.drift_accepted)}</p>")
    if result.anomalies:
        parts.append("<p><b>Anomalies found by ExampleValidator:</b></p><ul>"
                     + "".join(f"<li>{_e(a)}</li>" for a in result.anomalies) + "</ul>")
    else:
        parts.append("<p>Anomalies: none found by ExampleValidator.</p>")

    stats = _statistics(result)
    if not stats:
        return "\n".join(parts)
    parts.append("<h3>Feature statistics (TFDV, StatisticsGen)</h3>")
    numeric_rows, string_rows = [], []
    numeric: Dict[str, List[Tuple[str, Any]]] = {}
    for split, dataset in stats:
        for feature in dataset.features:
            name = _feature_name(feature)
            if feature.HasField("num_stats"):
                s = feature.num_stats
                missing = s.common_stats.num_missing / max(dataset.num_examples, 1)
                numeric_rows.append((_e(name), _e(split), f"{missing:.1%}",
                                     *(f"{v:,.4g}" for v in (s.mean, s.std_dev, s.min, s.median,
                                                              s.max))))
                numeric.setdefault(name, []).append((split, s))
            elif feature.HasField("string_stats"):
                s = feature.string_stats
                missing = s.common_stats.num_missing / max(dataset.num_examples, 1)
                top = ", ".join(f"{_e(v.value)} ({v.frequency:.0f})" for v in s.top_values[:3])
                string_rows.append((_e(name), _e(split), f"{missing:.1%}",
                                    _number(s.unique, True), top))
    parts.append('<div class="grid">')
    if numeric_rows:
        parts.append(_table(["numeric feature", "split", "missing", "mean", "std", "min",
                             "median", "max"], sorted(numeric_rows),
                            numeric=(2, 3, 4, 5, 6, 7), css="feature-stats"))
    if string_rows:
        parts.append(_table(["string feature", "split", "missing", "unique", "most frequent"],
                            sorted(string_rows), numeric=(2, 3), css="feature-stats"))
    parts.append("</div>")
    plots = [_histogram(name, per_split) for name, per_split in numeric.items()]
    parts.append('<div class="grid">' + "".join(p for p in plots if p) + "</div>")
    return "\n".join(parts)


def _histogram(name: str, per_split: List[Tuple[str, Any]]) -> str:
    """TFDV's standard histogram of a numeric feature, one bar series per split."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(4.2, 2.6))
    drawn = False
    for split, stats in per_split:
        histogram = next((h for h in stats.histograms if h.type == h.STANDARD), None)
        if histogram is None or not histogram.buckets:
            continue
        lows = [b.low_value for b in histogram.buckets]
        widths = [max(b.high_value - b.low_value, 1e-9) for b in histogram.buckets]
        total = sum(b.sample_count for b in histogram.buckets) or 1
        axes.bar(lows, [b.sample_count / total for b in histogram.buckets], width=widths,
                 align="edge", alpha=0.55, label=split)
        drawn = True
    if not drawn:
        plt.close(figure)
        return ""
    axes.set_title(name)
    axes.set_ylabel("share")
    axes.legend()
    return _figure_png(figure)


# -- training -------------------------------------------------------------------------------

def _training_section(result: RunResult) -> str:
    parts = ['<h2 id="training">Training</h2>']
    settings = result.exec_properties.get("Trainer", {}).get("custom_config")
    if isinstance(settings, dict):
        shown = {k: v for k, v in settings.items() if k not in ("code_version", "items_file")}
        parts.append(_table(["setting", "value"], [(_e(k), _e(v)) for k, v in shown.items()],
                            css="settings"))
    history = result.training_history().get("history")
    if not history:
        parts.append('<p class="note">No training history recorded (no epochs trained, or a '
                     'run from before histories were kept).</p>')
        return "\n".join(parts)
    plt = _pyplot()
    losses = {name: values for name, values in history.items() if values}
    figure, axes = plt.subplots(1, len(losses), figsize=(4 * len(losses), 2.8), squeeze=False)
    for ax, (name, values) in zip(axes[0], losses.items()):
        ax.plot(range(1, len(values) + 1), values, marker="o")
        ax.set_title(name)
        ax.set_xlabel("epoch")
    figure.tight_layout()
    parts.append(_figure_png(figure))
    if result.tensorboard_dir:
        parts.append(f'<p class="note">TensorBoard: <code>tensorboard --logdir '
                     f'{_e(result.tensorboard_dir)}</code></p>')
    return "\n".join(parts)


# -- evaluation -----------------------------------------------------------------------------

def read_slices(evaluation_uri: str) -> Dict[str, Dict[str, Dict[str, float]]]:
    """slice feature -> bucket -> metric -> value (candidate model), from TFMA's output."""
    import tensorflow_model_analysis as tfma

    slices: Dict[str, Dict[str, Dict[str, float]]] = {}
    for metrics in tfma.load_metrics(evaluation_uri):
        keys = metrics.slice_key.single_slice_keys
        if len(keys) != 1:
            continue
        key = keys[0]
        value = key.bytes_value.decode() if key.HasField("bytes_value") else (
            key.int64_value if key.HasField("int64_value") else key.float_value)
        row = slices.setdefault(key.column, {}).setdefault(str(value), {})
        for item in metrics.metric_keys_and_values:
            if item.key.is_diff or item.key.model_name == "baseline":
                continue
            row[item.key.name] = item.value.double_value.value
    return slices


def _bucket_order(bucket: str) -> Tuple[int, float, str]:
    named = {"head": 0, "torso": 1, "tail": 2, "unseen": 3}
    if bucket in named:
        return (0, named[bucket], bucket)
    digits = bucket.split("-")[0].split(" ")[0].rstrip("+")
    return (1, float(digits) if digits.isdigit() else math.inf, bucket)


def _evaluation_section(result: RunResult, gate_metric: Optional[str]) -> str:
    parts = ['<h2 id="evaluation">Evaluation</h2>']
    if not result.metrics:
        parts.append("<p>The Evaluator did not run.</p>")
        return "\n".join(parts)
    rows = []
    for row, naive in naive_beside(result.metrics):
        integer = row.name in INTEGER_METRICS
        gate = {None: "", True: '<span class="pass">pass</span>',
                False: '<span class="fail">FAIL</span>'}[row.passed]
        rows.append((_e(row.name), _number(row.value, integer), _number(naive, integer),
                     _e(row.threshold), _number(row.baseline, integer), gate))
    parts.append("<p>Held-out split, overall; naive = most-popular's top-K and user + item "
                 "biases' RMSE, scored on the same interactions in the same run; baseline = "
                 "the last blessed model.</p>")
    parts.append(_table(["metric", "value", "naive", "threshold", "baseline", "gate"], rows,
                        numeric=(1, 2, 4), css="evaluation"))
    if result.gate_note:
        parts.append(f"<p>{_e(result.gate_note)}</p>")
    if result.blessed:
        parts.append('<p><span class="pass">BLESSED</span>: every threshold passed.</p>')
    elif result.blessed is False:
        parts.append('<p><span class="fail">NOT BLESSED</span>: '
                     + _e("; ".join(result.gate_failures)) + "</p>")
    if result.pushed_path:
        parts.append(f"<p>Pushed: version {_e(result.pushed_version)} at "
                     f"<code>{_e(result.pushed_path)}</code></p>")
    elif result.push_refused:
        parts.append(f"<p>Push refused: {_e(result.push_refused)}</p>")
    else:
        parts.append("<p>Nothing pushed.</p>")

    slices = read_slices(result.artifact_uris[results.EVALUATION]) if (
        results.EVALUATION in result.artifact_uris) else {}
    for feature in SLICE_FEATURES:
        buckets = slices.get(feature)
        if not buckets:
            continue
        names = [m for m in _SLICE_METRICS if any(m in b for b in buckets.values())]
        if gate_metric and gate_metric not in names and any(gate_metric in b for b in buckets.values()):
            names.insert(2, gate_metric)
        order = sorted(buckets, key=_bucket_order)
        parts.append(f"<h3>By {_e(feature.replace('_', ' '))} (TFMA slice)</h3>")
        parts.append('<div class="grid">' + _table(
            [feature] + names,
            [[_e(b)] + [_number(buckets[b].get(m), m == "example_count") for m in names]
             for b in order], numeric=range(1, len(names) + 1), css=f"slice slice-{feature}")
            + _slice_plot(feature, order, buckets, [m for m in names if m != "example_count"])
            + "</div>")
    return "\n".join(parts)


def _slice_plot(feature: str, order: List[str], buckets: Dict[str, Dict[str, float]],
                metrics: List[str]) -> str:
    if not metrics:
        return ""
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics), 2.6), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        values = [buckets[b].get(metric, math.nan) for b in order]
        ax.bar(range(len(order)), values, color="#4c72b0")
        ax.set_xticks(range(len(order)), order, rotation=30, ha="right", fontsize=8)
        ax.set_title(metric, fontsize=9)
    figure.tight_layout()
    return _figure_png(figure)


def _tradeoff_section(metadata_path: str, result: RunResult, gate_metric: str) -> str:
    """The gate metric against RMSE for every loss weighting in this pipeline's history."""
    points: Dict[Tuple[float, float], Tuple[float, float, str]] = {}
    for run_id in list_runs(metadata_path):
        other = result if run_id == result.run_id else read_run(metadata_path, run_id,
                                                               with_details=False)
        settings = other.exec_properties.get("Trainer", {}).get("custom_config")
        values = {m.name: m.value for m in other.metrics}
        if not isinstance(settings, dict) or gate_metric not in values or RMSE_METRIC not in values:
            continue
        weights = (settings.get("retrieval_weight"), settings.get("rating_weight"))
        points[weights] = (values[gate_metric], values[RMSE_METRIC], run_id)
    parts = ['<h2 id="tradeoff">Loss-weight trade-off</h2>']
    if len(points) < 2:
        parts.append('<p class="note">One loss weighting in this pipeline\'s history so far; '
                     "runs with other weights (<code>--set model.rating_weight=...</code>) add "
                     "points to this plot.</p>")
        return "\n".join(parts)
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(5, 3.4))
    for (retrieval, rating), (top_k, rmse, _) in sorted(points.items()):
        axes.scatter(rmse, top_k, color="#dd8452")
        axes.annotate(f"({retrieval:g}, {rating:g})", (rmse, top_k), fontsize=8,
                      xytext=(4, 4), textcoords="offset points")
    axes.ticklabel_format(useOffset=False)
    axes.margins(0.25)
    axes.set_xlabel("RMSE (lower is better)")
    axes.set_ylabel(gate_metric)
    axes.set_title("(retrieval, rating) loss weights")
    parts.append(_figure_png(figure))
    parts.append('<p class="note">One point per weighting (its latest run); other settings '
                 "may differ between these runs: <code>mtrec show RUN</code> lists them.</p>")
    parts.append(_table(["retrieval weight", "rating weight", gate_metric, "RMSE", "run"],
                        [(f"{w[0]:g}", f"{w[1]:g}", _number(p[0]), _number(p[1]), _e(p[2]))
                         for w, p in sorted(points.items())], numeric=(0, 1, 2, 3),
                        css="tradeoff"))
    return "\n".join(parts)


# -- recommendations ------------------------------------------------------------------------

def _model_path(result: RunResult) -> Optional[str]:
    """The run's exported model: the Trainer's output (pushed or not)."""
    import tensorflow as tf
    from tfx.utils import path_utils

    uri = result.artifact_uris.get(results.MODEL)
    serving = uri and path_utils.serving_model_path(uri)
    return serving if serving and tf.io.gfile.exists(serving) else None


def _recommendations_section(result: RunResult) -> str:
    from mtrec.serving.loader import PushedModel

    parts = ['<h2 id="recommendations">Example recommendations</h2>']
    path = _model_path(result)
    if path is None:
        parts.append("<p>No model was trained in this run.</p>")
        return "\n".join(parts)
    model = PushedModel(path, version=int(result.pushed_version or 0))
    users, _ = model.embedding_table("user")
    chosen = sorted(users)[:EXAMPLE_USERS]
    k = min(EXAMPLE_K, model.max_k)
    parts.append(f'<p class="note">Model <code>{_e(path)}</code>; top {k} for the first '
                 f"{len(chosen)} users, items they rated in training excluded.</p>")
    for recommendations in model.recommend(chosen, k):
        parts.append(f"<h3>User {_e(recommendations.user_id)}</h3>")
        parts.append(_table(["#", "item", "title", "score"],
                            [(rank, _e(item.item_id), _e(item.title), f"{item.score:.3f}")
                             for rank, item in enumerate(recommendations.items, 1)],
                            numeric=(0, 3), css="recommendations"))
    return "\n".join(parts)


# -- page -----------------------------------------------------------------------------------

def _summary_section(result: RunResult) -> str:
    started = datetime.datetime.fromtimestamp(result.started, datetime.timezone.utc)
    rows = [(_e(c.component), _e(c.state), f"{c.seconds:.1f}") for c in result.components]
    rows.append(("<b>total</b>", "", f"<b>{result.seconds:.1f}</b>"))
    return (f"<p>Recorded {started:%Y-%m-%d %H:%M:%S} UTC.</p>"
            + _table(["component", "state", "seconds"], rows, numeric=(2,), css="components"))


_CONTENTS = ('<p class="note">' + " · ".join(
    f'<a href="#{anchor}">{title}</a>' for anchor, title in (
        ("data", "Data"), ("training", "Training"), ("evaluation", "Evaluation and slices"),
        ("tradeoff", "Loss-weight trade-off"), ("recommendations", "Recommendations")))
    + "</p>")


def build_report(metadata_path: str, run_id: Optional[str] = None) -> str:
    """The HTML page for `run_id` (default: the latest run) in `metadata_path`."""
    result = read_run(metadata_path, run_id)
    gate_metric = next((m.name for m in result.metrics
                        if m.threshold and m.name.startswith("top_")),
                       "top_100_accuracy_seen_excluded")
    sections = [
        _summary_section(result),
        _data_section(result),
        _training_section(result),
        _evaluation_section(result, gate_metric),
        _tradeoff_section(metadata_path, result, gate_metric),
        _recommendations_section(result),
    ]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>mtrec run {_e(result.run_id)}</title><style>{_STYLE}</style></head><body>"
            f"<h1>mtrec run {_e(result.run_id)}</h1>\n" + _CONTENTS + "\n".join(sections)
            + "\n</body></html>\n")


def write_report(metadata_path: str, run_id: Optional[str], output: str) -> str:
    page = build_report(metadata_path, run_id)
    with open(output, "w", encoding="utf-8") as handle:
        handle.write(page)
    return output
