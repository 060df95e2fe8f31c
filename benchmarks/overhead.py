"""`mtrec bench overhead`: what the pipeline costs beyond fitting a model.

On MovieLens 100K, three commands are timed from start to exit, imports
included, one after another on the same machine:

1. `mtrec run` of configs/movielens-100k.toml into an empty pipeline root:
   validation, vocabularies, training, TFMA evaluation, the gate, the ScaNN
   index and the push;
2. the same command again: every output comes from TFX's cache (the
   Evaluator's baseline leaves out the run's own model, so it resolves as in
   the first run: components/baseline_resolver.py);
3. `python -m mtrec.benchmarks.tfrs_script`: a plain script that reads the
   same ratings, fits the TFRS multitask tutorial's joint model and evaluates
   it (top-100 accuracy and RMSE), with none of the above.

Goals (issue 6): fresh run / plain script ≤ 1.2; cached re-run ≤ 15 s.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
import time
from typing import Callable, Dict, List

from mtrec.benchmarks import pipeline_timing, report

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRESET = "configs/movielens-100k.toml"


def plain_script(u_data: str, progress: Callable) -> Dict:
    """Runs the plain TFRS script on `u_data` (a u.data file or a ratings folder);
    returns its metrics with the wall seconds."""
    progress(f"plain TFRS script on {u_data}")
    started = time.monotonic()
    finished = subprocess.run([sys.executable, "-m", "mtrec.benchmarks.tfrs_script", u_data],
                              capture_output=True, text=True)
    seconds = time.monotonic() - started
    if finished.returncode != 0:
        raise RuntimeError(f"the plain TFRS script failed (exit {finished.returncode}):\n"
                           f"{finished.stderr[-3000:]}")
    return {**json.loads(finished.stdout.strip().splitlines()[-1]), "seconds": seconds}


def _pipeline(args: List[str], label: str, progress: Callable) -> pipeline_timing.TimedRun:
    progress(f"{label}: mtrec run {' '.join(args)}")
    timed = pipeline_timing.timed_run(pipeline_timing.mtrec_run(args), time_limit_seconds=3600,
                                      echo=lambda line: progress(f"  {line}"))
    if timed.exit_code != 0:
        raise RuntimeError(f"{label}: mtrec run exited with {timed.exit_code}:\n"
                           + "\n".join(timed.output_tail))
    return timed


def section(fresh: pipeline_timing.TimedRun, cached: pipeline_timing.TimedRun, plain: Dict,
            pipeline_metrics: Dict[str, float]) -> str:
    ratio = fresh.wall_seconds / plain["seconds"]
    top_k = pipeline_metrics.get("top_100_accuracy")
    rows = [
        "| command | wall s | ratio to the plain script | top-100 (TFRS def.) | RMSE |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| plain TFRS tutorial script (3 epochs, batch 8192) | {plain['seconds']:.1f} | 1.00 | "
        f"{plain['top_100_accuracy']:.3f} | {plain['rmse']:.3f} |",
        f"| `mtrec run`, fresh (10 epochs, batch 1024) | {fresh.wall_seconds:.1f} | {ratio:.2f} | "
        f"{'–' if top_k is None else f'{top_k:.3f}'} | {pipeline_metrics.get('rmse', float('nan')):.3f} |",
        f"| `mtrec run` again, all cached | {cached.wall_seconds:.1f} | "
        f"{cached.wall_seconds / plain['seconds']:.2f} | – | – |",
    ]
    runs = (fresh, cached)
    components = ["| component | fresh s | again s |", "| --- | ---: | ---: |"]
    for name in fresh.component_seconds:
        cells = [run.component_seconds.get(name) for run in runs]
        components.append(f"| {name} | " + " | ".join(
            "–" if seconds is None else f"{seconds:.1f}" for seconds in cells) + " |")
    components.append(f"| {pipeline_timing.BETWEEN} | " + " | ".join(
        f"{run.wall_seconds - sum(run.component_seconds.values()):.1f}" for run in runs) + " |")
    return (
        "## Overhead (`mtrec bench overhead`)\n\n"
        f"Run on {datetime.date.today()} on {report.machine()}. MovieLens 100K; each command "
        "timed from start to exit, imports included, one after another. The plain script "
        f"(`benchmarks/tfrs_script.py`) splits {plain['train_rows']:,} / "
        f"{plain['held_out_rows']:,} at random and fits the TFRS multitask tutorial's joint "
        "model; the pipeline runs the ML-100K preset. Goals (issue 6): fresh run ≤ 1.2× the "
        "plain script; cached re-run ≤ 15 s.\n\n" + "\n".join(rows) + "\n\n"
        f"Fresh run against the plain script: **{ratio:.2f}×** (goal ≤ 1.2); cached re-run "
        f"**{cached.wall_seconds:.1f} s** (goal ≤ 15 s). Where each run spends its time:\n\n"
        + "\n".join(components) + "\n")


def run(ml_100k: str, work_dir: str, output: str, progress: Callable = print) -> str:
    """Times the three commands, writes the section to `output`, returns it."""
    from mtrec.data import movielens

    data_dir = os.path.join(work_dir, "data")
    if not os.path.exists(os.path.join(data_dir, "ratings")):
        progress(f"preparing {ml_100k} into {data_dir}")
        movielens.prepare("movielens-100k", ml_100k, data_dir)
    pipeline_root = os.path.join(work_dir, "pipeline")
    serving_dir = os.path.join(work_dir, "serving")
    for stale in (pipeline_root, serving_dir):
        shutil.rmtree(stale, ignore_errors=True)
    args = ["--config", os.path.join(REPO, PRESET),
            "--data-dir", os.path.join(data_dir, "ratings"),
            "--items-file", os.path.join(data_dir, "items.csv"),
            "--pipeline-root", pipeline_root, "--serving-dir", serving_dir]
    fresh = _pipeline(args, "fresh run", progress)
    fresh_metrics = pipeline_timing.run_metrics(pipeline_root)
    cached = _pipeline(args, "the same run again", progress)
    plain = plain_script(os.path.join(ml_100k, "u.data"), progress)
    text = section(fresh, cached, plain, fresh_metrics)
    report.write_section(output, text)
    return text
