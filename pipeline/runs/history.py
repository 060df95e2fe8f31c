"""`mtrec runs` and `mtrec show RUN`: the lineage TFX records in ML Metadata, readable.

The LocalDagRunner records each run as a `pipeline_run` context in the
pipeline root's metadata.sqlite, the Airflow runner as a `run` context in the
same file; both are listed (pipeline/runs/results.py reads either).
"""

from __future__ import annotations

import datetime

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from mtrec.pipeline.runs.results import RunResult, list_runs, read_run
from mtrec.pipeline.runs.summary import (components_table, console, evaluation_table,
                                         print_data, print_gate_and_push, print_training)
from mtrec.trainer_module.features import RMSE_METRIC


def format_time(unix_seconds: float) -> str:
    """A Unix time as 'YYYY-MM-DD HH:MM:SS' (UTC)."""
    return datetime.datetime.fromtimestamp(unix_seconds, datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M:%S")


def _gate_metric(result: RunResult):
    return next((m for m in result.metrics if m.threshold and m.name.startswith("top_")), None)


def runs_table(metadata_path: str) -> Table:
    """One row per run; the run id is its start time (UTC), as the LocalDagRunner names it."""
    rows, gated_names = [], set()
    for run_id in list_runs(metadata_path):
        result = read_run(metadata_path, run_id, with_details=False)
        states = [c.state for c in result.components]
        gated = _gate_metric(result)
        if gated:
            gated_names.add(gated.name)
        rmse = next((m.value for m in result.metrics if m.name == RMSE_METRIC), None)
        gate = {None: "–", True: "[green]blessed[/]", False: "[red]refused[/]"}[result.blessed]
        if "failed" in states:
            gate = "[red]failed[/]"
        spans = ",".join(str(span) for span in result.spans_used) or str(result.span_read)
        rows.append((run_id, spans if result.uses_spans else "–", f"{result.seconds:.0f}",
                     f"{states.count('ran')}/{len(states)}",
                     f"{gated.value:.4f}" if gated else "–",
                     "–" if rmse is None else f"{rmse:.4f}", gate,
                     result.pushed_version or ("refused" if result.push_refused else "–")))
    metric = " / ".join(sorted(gated_names)) or "the gated top-K metric"
    table = Table(title=f"Runs in {metadata_path}, oldest first\n(spans: trained on, newest "
                        f"first; top-K: {metric}; ran: components run, the rest cached)",
                  title_justify="left",
                  box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in ("run (UTC)", "spans", "s", "ran", "top-K", "rmse", "gate", "pushed"):
        table.add_column(column, justify="left" if column in ("run (UTC)", "gate") else "right",
                         no_wrap=True)
    for row in rows:
        table.add_row(*row)
    return table


def print_runs(metadata_path: str) -> None:
    """Prints the runs table whole: wider than the terminal (or than 80 columns,
    when piped) rather than with run ids cut short, since they are typed back."""
    table = runs_table(metadata_path)
    needed = Measurement.get(console, console.options.update_width(10_000), table).maximum
    Console(width=max(console.width, needed)).print(table)


def settings_table(result: RunResult) -> Table:
    """What the run was configured with, as the components recorded it."""
    table = Table(title="Settings (as recorded by the components)", title_justify="left")
    table.add_column("component")
    table.add_column("setting")
    table.add_column("value", overflow="fold")
    example_gen = result.exec_properties.get("CsvExampleGen", {})
    if "input_base" in example_gen:
        table.add_row("CsvExampleGen", "input", str(example_gen["input_base"]))
    trainer = result.exec_properties.get("Trainer", {}).get("custom_config")
    if isinstance(trainer, dict):
        for key, value in trainer.items():
            if key not in ("code_version", "items_file_version"):  # cache keys only
                table.add_row("Trainer", key, str(value))
    pusher = result.exec_properties.get("Pusher", {}).get("push_destination")
    if pusher:
        table.add_row("Pusher", "push_destination", str(pusher))
    return table


def print_show(metadata_path: str, run_id: str) -> RunResult:
    result = read_run(metadata_path, run_id)
    console.print(f"Run {result.run_id}, recorded {format_time(result.started)} UTC "
                  f"({metadata_path})", highlight=False, soft_wrap=True)
    print_data(result)
    console.print(settings_table(result))
    console.print(components_table(result))
    print_training(result)
    if result.metrics:
        console.print(evaluation_table(result))
    print_gate_and_push(result)
    if result.tensorboard_dir:
        console.print(f"Training curves: tensorboard --logdir {result.tensorboard_dir}",
                      highlight=False, soft_wrap=True)
    return result
