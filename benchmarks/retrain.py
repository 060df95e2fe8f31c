"""`mtrec bench retrain`: scheduled retraining replayed on MovieLens 100K.

The ratings are cut by timestamp into equal spans that arrive one before each
run. Two pipelines read the same spans side by side with the same window
(`data.window_spans`): one warm-starts from its last blessed model
(`model.warm_start`, `model.warm_start_epochs`), the other trains from
scratch (the preset's epochs). Every run is a whole `mtrec run` in its own
process, with the gate open so that each model is pushed and the next warm
start has it.

After span k's run, each pipeline's pushed model is scored on span k + 1,
the interactions that come next: top-10 and top-100 with the window's
training interactions excluded (an item outside the model's corpus is a
miss, an unknown user gets the out-of-vocabulary row) and RMSE; most-popular,
ranked on the same training interactions, stands beside them.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import glob
import os
import shutil
from typing import Dict, List, Sequence

import numpy as np

from mtrec.benchmarks import baselines, pipeline_timing, quality, ranking, report

OPEN_GATE = ("gate.min_lift_over_most_popular=-0.99", "gate.min_rmse_gain_over_biases=-0.99",
             "gate.min_top_k_accuracy=0", "gate.max_rmse=100", "gate.max_top_k_accuracy_drop=1",
             "gate.max_rmse_increase=100")
MODES = ("warm", "from scratch")


@dataclasses.dataclass
class SpanRun:
    """One pipeline's run after a span arrived, and its model on the next span."""

    span: int
    seconds: float
    component_seconds: Dict[str, float]
    next_span: Dict[str, float]  # top_10 / top_100 seen excluded, rmse; empty for the last span
    most_popular: Dict[str, float]  # on the same next span


def cut_into_spans(ratings_files: Sequence[str], folder: str, spans: int) -> List[int]:
    """Writes folder/span-1 ... span-N/ratings.csv: the rows of the (canonical, same
    columns) files by timestamp in `spans` equal parts (ties keep file order).
    Returns the rows in each."""
    rows = []
    for path in ratings_files:
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            rows += list(reader)
            fields = reader.fieldnames
    rows.sort(key=lambda row: int(row["timestamp"]))
    bounds = np.linspace(0, len(rows), spans + 1).round().astype(int)
    for number in range(1, spans + 1):
        target = os.path.join(folder, f"span-{number}")
        os.makedirs(target)
        with open(os.path.join(target, "ratings.csv"), "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows[bounds[number - 1]:bounds[number]])
    return np.diff(bounds).tolist()


def _read_csv(path: str):
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return ([row["user_id"] for row in rows], [row["item_id"] for row in rows],
            np.asarray([float(row["rating"]) for row in rows]))


def _window_training(pipeline_root: str) -> tuple[List[str], List[str], np.ndarray]:
    """(users, items, ratings) the latest run trained on: the train splits of the
    Examples its Transform read (its span window)."""
    from mtrec.pipeline.config import metadata_path
    from mtrec.pipeline.runs.results import open_store

    store = open_store(metadata_path(pipeline_root))
    (transform_type,) = [t for t in store.get_execution_types() if "Transform" in t.name]
    latest = max(store.get_executions_by_type(transform_type.name), key=lambda e: e.id)
    read = [event.artifact_id for event in store.get_events_by_execution_ids([latest.id])
            if event.type == event.INPUT and event.path.steps[0].key == "examples"]
    users, items, ratings = [], [], []
    for examples in store.get_artifacts_by_id(read):
        split_users, split_items, split_ratings = quality.read_examples(
            os.path.join(examples.uri, "Split-train"))
        users += split_users
        items += split_items
        ratings.append(split_ratings)
    return users, items, np.concatenate(ratings)


def next_span_split(training, next_span_csv: str) -> quality.Split:
    """Train: the window's training interactions; held out: every row of the next span."""
    return quality.indexed_split(training, _read_csv(next_span_csv))


def _predicted_ratings(model_uri: str, users: List[str], items: List[str]) -> np.ndarray:
    import scann  # noqa: F401  (the SavedModel holds ScaNN ops)
    import tensorflow as tf
    from tfx.utils import path_utils

    model = tf.saved_model.load(path_utils.serving_model_path(model_uri))
    predict = model.signatures["predict_rating"]
    return np.concatenate([
        predict(user_id=tf.constant(users[start:start + 4096]),
                item_id=tf.constant(items[start:start + 4096]))["rating"].numpy().reshape(-1)
        for start in range(0, len(users), 4096)])


def score_on_next_span(pipeline_root: str, model_uri: str, next_span_csv: str
                       ) -> tuple[Dict[str, float], Dict[str, float]]:
    """(the model's, most-popular's) top-10 / top-100 seen excluded and the model's RMSE
    on the next span."""
    split = next_span_split(_window_training(pipeline_root), next_span_csv)
    num_users, num_items = len(split.user_ids), len(split.item_ids)
    keep = ("top_10_accuracy_seen_excluded", "top_100_accuracy_seen_excluded")
    ours = ranking.ranking_metrics(quality.exported_model_scorer(model_uri, split), split.train,
                                   split.held_out, num_users, num_items)
    popular = ranking.ranking_metrics(baselines.most_popular(split.train, num_items),
                                      split.train, split.held_out, num_users, num_items)
    users, items, _ = _read_csv(next_span_csv)
    ours = {key: ours[key] for key in keep}
    ours["rmse"] = ranking.rmse(_predicted_ratings(model_uri, users, items), split.held_out)
    return ours, {key: popular[key] for key in keep}


def replay(data_dir: str, work_dir: str, spans: int, window_spans: int, warm_start_epochs: int,
           progress=print) -> tuple[List[int], Dict[str, List[SpanRun]]]:
    """Cuts the ratings into spans and runs both pipelines after each arrives."""
    from mtrec.pipeline.config import metadata_path
    from mtrec.pipeline.runs.results import MODEL, read_run

    shutil.rmtree(work_dir, ignore_errors=True)
    arriving, ratings = os.path.join(work_dir, "arriving"), os.path.join(work_dir, "ratings")
    sizes = cut_into_spans(sorted(glob.glob(os.path.join(data_dir, "ratings", "*.csv"))),
                           arriving, spans)
    os.makedirs(ratings)
    preset = str(quality.REPO / quality.DATASETS["movielens-100k"].preset)
    settings = {"warm": ("model.warm_start=true", f"model.warm_start_epochs={warm_start_epochs}"),
                "from scratch": ("model.warm_start=false",)}
    runs: Dict[str, List[SpanRun]] = {mode: [] for mode in MODES}
    for span in range(1, spans + 1):
        os.rename(os.path.join(arriving, f"span-{span}"), os.path.join(ratings, f"span-{span}"))
        for mode in MODES:
            root = os.path.join(work_dir, mode.replace(" ", "-"))
            args = ["--config", preset, "--data-dir", ratings,
                    "--items-file", os.path.join(data_dir, "items.csv"),
                    "--pipeline-root", os.path.join(root, "pipeline"),
                    "--serving-dir", os.path.join(root, "serving"),
                    "--set", "data.file_pattern=span-{SPAN}/*.csv",
                    "--set", f"data.window_spans={window_spans}"]
            for override in OPEN_GATE + settings[mode]:
                args += ["--set", override]
            progress(f"span {span}/{spans}, {mode}: mtrec run")
            timed = pipeline_timing.timed_run(pipeline_timing.mtrec_run(args), 3600,
                                              echo=lambda line: None)
            if timed.exit_code != 0:
                raise RuntimeError(f"span {span}, {mode}: mtrec run exited {timed.exit_code}:\n"
                                   + "\n".join(timed.output_tail))
            next_span, popular = {}, {}
            if span < spans:
                run = read_run(metadata_path(os.path.join(root, "pipeline")))
                next_span, popular = score_on_next_span(
                    os.path.join(root, "pipeline"), run.artifact_uris[MODEL],
                    os.path.join(arriving, f"span-{span + 1}", "ratings.csv"))
            runs[mode].append(SpanRun(span, timed.wall_seconds, timed.component_seconds,
                                      next_span, popular))
    return sizes, runs


def _cell(metrics: Dict[str, float], key: str, digits: int = 3) -> str:
    return f"{metrics[key]:.{digits}f}" if key in metrics else "–"


def markdown_table(runs: Dict[str, List[SpanRun]]) -> str:
    lines = ["| span | warm: run s | warm: Trainer s | from scratch: run s | "
             "from scratch: Trainer s | warm / from scratch | top-10 next span: warm / scratch "
             "/ most-popular | top-100 next span: warm / scratch / most-popular | RMSE next "
             "span: warm / scratch |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |"]
    for warm, cold in zip(runs["warm"], runs["from scratch"]):
        cells = [f"{warm.span}", f"{warm.seconds:.1f}", f"{warm.component_seconds['Trainer']:.1f}",
                 f"{cold.seconds:.1f}", f"{cold.component_seconds['Trainer']:.1f}",
                 f"{warm.seconds / cold.seconds:.2f}"]
        for key in ("top_10_accuracy_seen_excluded", "top_100_accuracy_seen_excluded"):
            cells.append(" / ".join([_cell(warm.next_span, key), _cell(cold.next_span, key),
                                     _cell(warm.most_popular, key)]))
        cells.append(f"{_cell(warm.next_span, 'rmse')} / {_cell(cold.next_span, 'rmse')}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary(sizes: Sequence[int], runs: Dict[str, List[SpanRun]]) -> Dict[str, float]:
    """The goals' numbers over the warm-started spans (2 onwards; span 1 has no base)."""
    warm, cold = runs["warm"][1:], runs["from scratch"][1:]
    scored = [(w, c) for w, c in zip(warm, cold) if w.next_span]
    key = "top_100_accuracy_seen_excluded"
    example_gen = [run.component_seconds["CsvExampleGen"] for run in runs["warm"]]
    return {
        "time_ratio": float(np.median([w.seconds / c.seconds for w, c in zip(warm, cold)])),
        "trainer_ratio": float(np.median([w.component_seconds["Trainer"]
                                          / c.component_seconds["Trainer"]
                                          for w, c in zip(warm, cold)])),
        "top_100_difference": float(np.mean([w.next_span[key] - c.next_span[key]
                                             for w, c in scored])),
        "top_10_difference": float(np.mean([w.next_span["top_10_accuracy_seen_excluded"]
                                            - c.next_span["top_10_accuracy_seen_excluded"]
                                            for w, c in scored])),
        "rmse_difference": float(np.mean([w.next_span["rmse"] - c.next_span["rmse"]
                                          for w, c in scored])),
        "example_gen_last_over_second": example_gen[-1] / example_gen[1],
        "span_size_spread": max(sizes) / min(sizes),
    }


def plot(runs: Dict[str, List[SpanRun]], path: str) -> None:
    """Top-100 on the next span per span (both pipelines and most-popular) and each
    run's seconds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    key = "top_100_accuracy_seen_excluded"
    figure, (quality_axes, time_axes) = plt.subplots(1, 2, figsize=(10, 4), dpi=110)
    for mode, style in (("warm", "o-"), ("from scratch", "s--")):
        scored = [run for run in runs[mode] if run.next_span]
        quality_axes.plot([r.span for r in scored], [r.next_span[key] for r in scored], style,
                          label=f"mtrec, {mode}")
        time_axes.plot([r.span for r in runs[mode]], [r.seconds for r in runs[mode]], style,
                       label=f"mtrec, {mode}")
    scored = [run for run in runs["warm"] if run.most_popular]
    quality_axes.plot([r.span for r in scored], [r.most_popular[key] for r in scored], ":",
                      color="gray", label="most popular")
    quality_axes.set_xlabel("trained through span")
    quality_axes.set_ylabel("top-100 on the next span, seen excluded")
    time_axes.set_xlabel("span")
    time_axes.set_ylabel("seconds per run (the whole pipeline)")
    for axes in (quality_axes, time_axes):
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)
    figure.suptitle("MovieLens 100K replayed span by span: warm start against from scratch",
                    fontsize=10)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def run(shared_data: str, work_dir: str, output: str, spans: int = 10, window_spans: int = 3,
        warm_start_epochs: int = 3, progress=print) -> str:
    """Replays the spans, writes the section and the plot; returns the section."""
    data_dir = quality.prepare(quality.DATASETS["movielens-100k"], shared_data,
                               os.path.join(work_dir, "data"))
    sizes, runs = replay(data_dir, os.path.join(work_dir, "replay"), spans, window_spans,
                         warm_start_epochs, progress)
    numbers = summary(sizes, runs)
    image = os.path.join(os.path.dirname(output), "retrain-movielens-100k.png")
    plot(runs, image)
    section = (
        "## Retraining on spans (`mtrec bench retrain`)\n\n"
        f"Run on {datetime.date.today()} on {report.machine()}. MovieLens 100K cut by "
        f"timestamp into {spans} spans of {min(sizes):,}–{max(sizes):,} ratings, arriving one "
        f"before each run. Two pipelines read the same spans with a window of {window_spans} "
        f"spans: *warm* starts from its last blessed model and trains {warm_start_epochs} "
        f"epochs; *from scratch* trains the preset's epochs (configs/movielens-100k.toml). "
        "Each run is a whole `mtrec run` (its own process, the gate open, every model "
        "pushed). After span k, each pushed model is scored on span k + 1: top-K with the "
        "window's training interactions excluded (an item outside the corpus is a miss), and "
        "RMSE; most-popular is ranked on the same training interactions. Span 1 has no model "
        f"to start from, so both pipelines train from scratch there.\n\n"
        + markdown_table(runs) + "\n\n"
        f"- Warm run time / from-scratch run time, median over spans 2–{spans}: "
        f"**{numbers['time_ratio']:.2f}** (the Trainer alone: {numbers['trainer_ratio']:.2f}). "
        "Goal: ≤ 0.40.\n"
        f"- Top-100 on the next span, warm minus from scratch, mean over spans 2–{spans - 1}: "
        f"**{numbers['top_100_difference']:+.4f}** (top-10 {numbers['top_10_difference']:+.4f}, "
        f"RMSE {numbers['rmse_difference']:+.4f}). Goal: ≥ −0.005.\n"
        f"- ExampleGen's time for span {spans} over span 2's: "
        f"**{numbers['example_gen_last_over_second']:.2f}** (spans within "
        f"{numbers['span_size_spread']:.2f}× of each other in size). Goal: ≤ 1.5.\n\n"
        f"![top-100 on the next span and seconds per run]({os.path.basename(image)})\n")
    report.write_section(output, section)
    return section
