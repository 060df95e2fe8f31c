"""`mtrec bench scale`: the whole pipeline at growing synthetic sizes.

For each size, the synthetic generator (`data/synthetic.py`) writes the
ratings once (kept in the work folder for later runs), then a fresh
`mtrec run` (nothing cached) trains, evaluates and pushes a model on them
while `pipeline_timing` records each component's time and peak memory. The
table shows the time per million ratings, so anything that grows faster than
the data shows up as a rising column.

At sizes up to REFERENCE_MAX_RATINGS, the plain TFRS script
(`tfrs_script.py`: the TFRS tutorial's joint model with no pipeline around
it) runs on the same ratings as the reference.

The gate is opened (the naive baselines' margins set to -0.99) so every
run goes through the Pusher and its index build: this measures cost, not
quality. The model settings are the defaults unless `--set` says otherwise.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import shutil
from typing import Callable, Dict, List, Optional, Sequence

from mtrec.benchmarks import overhead, pipeline_timing, popularity, report
from mtrec.data import synthetic

GiB = 1024 ** 3
OPEN_GATE = {"gate.min_lift_over_most_popular": "-0.99",
             "gate.min_rmse_gain_over_biases": "-0.99"}
# The Beam runners a size can run on: name -> the settings that select it.
RUNNERS = {"in memory": {}, "multi processing": {"beam_mode": "multi_processing"},
           "flink": {"beam_runner": "flink"}}
SHARDS = 8  # CSV files per size, so that a distributed runner reads them in parallel
# The plain script holds every rating in memory and scores every user against
# every item, so it is the reference at small sizes only.
REFERENCE_MAX_RATINGS = 1_000_000


@dataclasses.dataclass
class SizeResult:
    """One size's run."""

    spec: synthetic.ScaledSpec
    run: pipeline_timing.TimedRun
    metrics: Dict[str, float]
    runner: str = "in memory"  # a RUNNERS key
    # most-popular's top-100 seen excluded on the same split and user sample
    popular_top_k: Optional[float] = None
    examples: Dict[str, int] = dataclasses.field(default_factory=dict)  # split -> records
    # the Trainer's seconds per phase (its training_history.json), in the order they ran
    trainer_phases: Dict[str, float] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class ReferenceResult:
    """The plain TFRS script on one size's ratings: its metrics and wall seconds."""

    spec: synthetic.ScaledSpec
    metrics: Dict[str, float]


def run_reference(spec: synthetic.ScaledSpec, work_dir: str, progress: Callable
                  ) -> ReferenceResult:
    """The plain TFRS script on the ratings `run_size` wrote for this size."""
    ratings_dir = prepare_data(spec, os.path.join(work_dir, f"{spec.num_ratings}", "data"),
                               progress)
    return ReferenceResult(spec, overhead.plain_script(ratings_dir, progress))


def reference_table(references: Sequence[ReferenceResult]) -> str:
    rows = ["| ratings | train / held-out rows | wall s | s per 1M ratings | "
            "top-100 | top-100, seen excl. | RMSE |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for reference in references:
        m = reference.metrics
        rows.append(
            f"| {reference.spec.num_ratings:,} | {m['train_rows']:,} / {m['held_out_rows']:,} | "
            f"{m['seconds']:,.0f} | {m['seconds'] / (reference.spec.num_ratings / 1e6):,.0f} | "
            f"{m['top_100_accuracy']:.3f} | {m['top_100_accuracy_seen_excluded']:.3f} | "
            f"{m['rmse']:.3f} |")
    return "\n".join(rows)


def parse_size(text: str) -> synthetic.ScaledSpec:
    """A size: a number of ratings (MovieLens's ratios), or ml-25m for its shape."""
    if text.strip() == "ml-25m":
        return synthetic.MOVIELENS_25M_SHAPE
    return synthetic.ScaledSpec(int(text))


def prepare_data(spec: synthetic.ScaledSpec, data_dir: str, progress: Callable) -> str:
    """Writes the size's CSVs unless the same spec already wrote them; returns the ratings folder."""
    marker = os.path.join(data_dir, "spec.json")
    wanted = json.dumps({**dataclasses.asdict(spec), "shards": SHARDS}, sort_keys=True)
    ratings_dir = os.path.join(data_dir, "ratings")
    if os.path.exists(marker) and open(marker, encoding="utf-8").read() == wanted:
        return ratings_dir
    progress(f"{spec.num_ratings:,} ratings: generating {spec.num_users:,} users x "
             f"{spec.num_items:,} items into {data_dir}")
    shutil.rmtree(data_dir, ignore_errors=True)
    synthetic.write(spec, data_dir, shards=SHARDS)
    with open(marker, "w", encoding="utf-8") as handle:
        handle.write(wanted)
    return ratings_dir


def run_size(spec: synthetic.ScaledSpec, runner: str, work_dir: str, overrides: Dict[str, str],
             time_limit_seconds: float, progress: Callable,
             flink_pids: Callable[[], Sequence[int]] = tuple) -> SizeResult:
    """Generates (or reuses) the data and runs the pipeline on it from scratch on
    `runner`; `flink_pids` lists the Flink cluster's processes, measured with the run."""
    folder = os.path.join(work_dir, f"{spec.num_ratings}")
    ratings_dir = prepare_data(spec, os.path.join(folder, "data"), progress)
    run_folder = os.path.join(folder, runner.replace(" ", "-"))
    pipeline_root = os.path.join(run_folder, "pipeline")
    serving_dir = os.path.join(run_folder, "serving")
    for stale in (pipeline_root, serving_dir):
        shutil.rmtree(stale, ignore_errors=True)  # a fresh run: nothing cached
    settings = {**OPEN_GATE, **RUNNERS[runner], **overrides}
    args = ["--data-dir", ratings_dir, "--items-file", os.path.join(folder, "data", "items.csv"),
            "--pipeline-root", pipeline_root, "--serving-dir", serving_dir]
    for key, value in settings.items():
        args += ["--set", f"{key}={value}"]
    progress(f"{spec.num_ratings:,} ratings, {runner}: mtrec run {' '.join(args)}")
    timed = pipeline_timing.timed_run(pipeline_timing.mtrec_run(args), time_limit_seconds,
                                      echo=lambda line: progress(f"  {line}"),
                                      other_pids=flink_pids if runner == "flink" else tuple)
    result = SizeResult(spec, timed, {}, runner)
    if timed.exit_code == 0:
        from mtrec.pipeline.config import GateConfig, metadata_path
        from mtrec.pipeline.runs.results import EXAMPLES, read_run

        run = read_run(metadata_path(pipeline_root))
        result.metrics = {row.name: row.value for row in run.metrics}
        result.examples = {counts.split: counts.interactions for counts in run.data}
        result.trainer_phases = run.training_history().get("phase_seconds", {})
        progress(f"{spec.num_ratings:,} ratings: most-popular on the run's split")
        top_k_max_users = int(overrides.get("gate.top_k_max_users",
                                            GateConfig().top_k_max_users))
        result.popular_top_k = popularity.most_popular_top_k(
            run.artifact_uris[EXAMPLES], top_k_max_users)["top_100_accuracy_seen_excluded"]
    return result


def trainer_phase_table(results: Sequence[SizeResult]) -> str:
    """Seconds per Trainer phase and size; "" when no run recorded them."""
    timed = [r for r in results if r.trainer_phases]
    if not timed:
        return ""
    phases: List[str] = []
    for result in timed:
        phases += [phase for phase in result.trainer_phases if phase not in phases]
    rows = ["| Trainer phase | " + " | ".join(
                f"{r.spec.num_ratings:,}, {r.runner}: s" for r in timed) + " |",
            "| --- |" + " ---: |" * len(timed)]
    for phase in phases:
        rows.append(f"| {phase} | " + " | ".join(
            "–" if phase not in r.trainer_phases else f"{r.trainer_phases[phase]:,.1f}"
            for r in timed) + " |")
    return "\n".join(rows)


def _status(result: SizeResult) -> str:
    if result.run.exit_code is None:
        return f"stopped at the time limit ({result.run.wall_seconds / 60:.0f} min)"
    return "pushed" if result.run.exit_code == 0 else f"failed (exit {result.run.exit_code})"


def summary_table(results: Sequence[SizeResult]) -> str:
    """One row per size: totals, and time per million ratings."""
    rows = ["| ratings | users | items | Beam runner | train / eval examples | wall s | "
            "s per 1M ratings | peak memory GiB | top-100, seen excl. | most-popular top-100 | "
            "RMSE | outcome |",
            "| ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for result in results:
        spec, run = result.spec, result.run
        per_million = run.wall_seconds / (spec.num_ratings / 1e6)
        top_k = result.metrics.get("top_100_accuracy_seen_excluded")
        rmse = result.metrics.get("rmse")
        examples = (f"{result.examples.get('train', 0):,} / {result.examples.get('eval', 0):,}"
                    if result.examples else "–")
        popular = result.popular_top_k
        rows.append(
            f"| {spec.num_ratings:,} | {spec.num_users:,} | {spec.num_items:,} | "
            f"{result.runner} | {examples} | "
            f"{run.wall_seconds:,.0f} | {per_million:,.0f} | {run.peak_bytes / GiB:.2f} | "
            f"{'–' if top_k is None else f'{top_k:.3f}'} | "
            f"{'–' if popular is None else f'{popular:.3f}'} | "
            f"{'–' if rmse is None else f'{rmse:.3f}'} | {_status(result)} |")
    return "\n".join(rows)


def component_table(results: Sequence[SizeResult]) -> str:
    """Seconds, seconds per million ratings and peak GiB per component and size."""
    names: List[str] = []
    for result in results:
        names += [name for name in result.run.component_seconds if name not in names]
    header = "| component | " + " | ".join(
        f"{r.spec.num_ratings:,}, {r.runner}: s | s/1M | peak GiB" for r in results) + " |"
    rows = [header, "| --- |" + " ---: | ---: | ---: |" * len(results)]
    for name in names + [pipeline_timing.BETWEEN]:
        cells = []
        for result in results:
            seconds = result.run.component_seconds.get(name)
            if name == pipeline_timing.BETWEEN:  # imports, input checks, the summary
                seconds = result.run.wall_seconds - sum(result.run.component_seconds.values())
            peak = result.run.component_peak_bytes.get(name)
            millions = result.spec.num_ratings / 1e6
            cells.append(" | ".join([
                "–" if seconds is None else f"{seconds:,.1f}",
                "–" if seconds is None else f"{seconds / millions:,.1f}",
                "–" if peak is None else f"{peak / GiB:.2f}"]))
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def growth_line(results: Sequence[SizeResult]) -> str:
    """Per runner: the per-million cost at the largest size against the smallest
    size of at least 1M."""
    def per_million(result: SizeResult) -> float:
        return result.run.wall_seconds / (result.spec.num_ratings / 1e6)

    lines = []
    for runner in dict.fromkeys(r.runner for r in results):
        base = [r for r in results if r.runner == runner and r.run.exit_code == 0
                and r.spec.num_ratings >= 1_000_000]
        if len(base) < 2:
            lines.append(f"Growth ({runner}): fewer than two completed sizes of 1M ratings or "
                         "more; no ratio.")
            continue
        low, high = base[0], base[-1]
        lines.append(f"Growth ({runner}): {per_million(high):,.0f} s per 1M ratings at "
                     f"{high.spec.num_ratings:,} against {per_million(low):,.0f} s at "
                     f"{low.spec.num_ratings:,}: {per_million(high) / per_million(low):.2f}× "
                     "(goal ≤ 1.3×).")
    return "\n\n".join(lines)


def section(results: Sequence[SizeResult], overrides: Dict[str, str],
            references: Sequence[ReferenceResult] = ()) -> str:
    settings = ", ".join(f"`{k}={v}`" for k, v in {**OPEN_GATE, **overrides}.items())
    return (
        "## Scale (`mtrec bench scale`)\n\n"
        f"Run on {datetime.date.today()} on {report.machine()}. Synthetic ratings from "
        "`data/synthetic.py` (power-law item popularity; ~50 ratings per user and ~100 per "
        "item, or MovieLens 25M's shape); every size is a fresh `mtrec run` (nothing cached) "
        f"with the default configuration and {settings}. Every component "
        "boundary's record count was checked by the run itself (docs/reliability.md): a "
        "completed run lost no row. On Flink, the run starts a standalone cluster "
        "(docs/orchestrators.md) and peak memory includes its JVMs. Most-popular is ranked on the run's own split and the "
        "Evaluator's user sample. Peak memory is the resident set of the run and its Beam "
        "workers together, sampled 4× a second. Goals (issue 18): 25M ratings in ≤ 45 min "
        "and ≤ 8 GiB; 10M in ≤ 15 min; per-million cost flat within 1.3×.\n\n"
        + summary_table(results) + "\n\n" + growth_line(results) + "\n\n"
        "Each component's seconds, seconds per million ratings and peak memory:\n\n"
        + component_table(results) + "\n"
        + ("" if not trainer_phase_table(results) else
           "\nWhere the Trainer's time went (its `training_history.json`):\n\n"
           + trainer_phase_table(results) + "\n")
        + ("" if not references else
           "\nThe reference: the plain TFRS script (`benchmarks/tfrs_script.py`, the TFRS "
           "multitask tutorial's joint model, 3 epochs) on the same ratings, with its own "
           "random 80/20 split and no validation, vocabulary pass, gate, metadata or export; "
           "its top-K ranks every held-out rating, not the Evaluator's user sample:\n\n"
           + reference_table(references) + "\n"))


def run(sizes: Sequence[synthetic.ScaledSpec], runners: Sequence[str], work_dir: str,
        output: str, overrides: Dict[str, str], time_limit_seconds: float,
        progress: Callable = print, flink_pids: Callable[[], Sequence[int]] = tuple) -> str:
    """Runs every size on every runner, rewriting the section after each run so a long
    benchmark keeps what it measured."""
    results: List[SizeResult] = []
    references: List[ReferenceResult] = []
    text = ""
    for size in sizes:
        for runner in runners:
            results.append(run_size(size, runner, work_dir, overrides, time_limit_seconds,
                                    progress, flink_pids))
            text = section(results, overrides, references)
            report.write_section(output, text)
            if results[-1].run.exit_code not in (0, None):
                progress("\n".join(results[-1].run.output_tail))
                raise RuntimeError(f"{size.num_ratings:,} ratings, {runner}: the pipeline "
                                   f"{_status(results[-1])}; its last output is above")
        if size.num_ratings <= REFERENCE_MAX_RATINGS:
            references.append(run_reference(size, work_dir, progress))
            text = section(results, overrides, references)
            report.write_section(output, text)
    return text
