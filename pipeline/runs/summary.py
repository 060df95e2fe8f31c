"""Terminal output: the run summary and recommendation lists (rich tables)."""

from __future__ import annotations

from typing import Sequence

from rich.console import Console
from rich.table import Table

from mtrec.pipeline.config import Config
from mtrec.pipeline.runs.results import (ANOMALIES, INTEGER_METRICS, RunResult, describe_split,
                                         naive_beside, read_run)

console = Console()


def evaluation_table(result: RunResult) -> Table:
    table = Table(title="Evaluation (held-out split; naive = most-popular's top-K, user + item "
                        "biases' RMSE, on the same interactions; Δ = change vs baseline, the "
                        "last blessed model)", title_justify="left", pad_edge=False)
    # On a narrow terminal only the thresholds wrap: names, numbers and verdicts stay whole.
    for column in ("metric", "value", "naive", "threshold", "baseline", "gate"):
        table.add_column(column, no_wrap=column != "threshold",
                         min_width={"gate": 4, "threshold": 6}.get(column),
                         justify="right" if column in ("value", "naive", "baseline") else "left")
    for row, naive in naive_beside(result.metrics):
        gate = {None: "", True: "[green]pass[/]", False: "[red]FAIL[/]"}[row.passed]
        number = "{:.0f}".format if row.name in INTEGER_METRICS else "{:.4f}".format
        table.add_row(row.name, number(row.value), "" if naive is None else number(naive),
                      row.threshold, "–" if row.baseline is None else number(row.baseline), gate)
    return table


def components_table(result: RunResult) -> Table:
    table = Table(title="Components", title_justify="left")
    table.add_column("component")
    table.add_column("state")
    table.add_column("seconds", justify="right")
    for component in result.components:
        table.add_row(component.component, component.state, f"{component.seconds:.1f}")
    return table


def data_table(result: RunResult) -> Table:
    table = Table(title="Data (per split, from StatisticsGen)", title_justify="left")
    table.add_column("split")
    for column in ("interactions", "users", "items"):
        table.add_column(column, justify="right")
    for row in result.data:
        table.add_row(row.split, f"{row.interactions:,}",
                      *("–" if n is None else f"{n:,}" for n in (row.users, row.items)))
    return table


def print_data(result: RunResult) -> None:
    """Data counts per split, the split policy and ExampleValidator's anomalies."""
    if result.data:
        console.print(data_table(result))
    if result.split:
        console.print(f"Split: {describe_split(result.split)}")
    if result.uses_spans:
        console.print(f"Spans: {result.spans_text()}", highlight=False)
    if result.drift_accepted:
        console.print(f"[bold yellow]Drift accepted (drift.accept):[/] {result.drift_accepted}",
                      highlight=False, soft_wrap=True)
    if result.anomalies:
        console.print(f"[bold yellow]Anomalies ({len(result.anomalies)}):[/]")
        for line in result.anomalies:
            console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
    elif ANOMALIES in result.artifact_uris:
        console.print("Anomalies: none found by ExampleValidator.")


def print_gate_and_push(result: RunResult) -> None:
    if result.gate_note:
        console.print(result.gate_note, highlight=False)
    if result.blessed:
        console.print("[bold green]Gate: BLESSED[/] – every threshold passed.")
    elif result.blessed is False:
        console.print("[bold red]Gate: NOT BLESSED[/] – " + "; ".join(result.gate_failures))
    if result.pushed_path:
        console.print(f"Pushed model: version {result.pushed_version} at "
                      f"[bold]{result.pushed_path}[/]", soft_wrap=True)
    elif result.push_refused:
        console.print(f"[bold red]Push refused[/] – {result.push_refused}. The serving folder "
                      "keeps its previous version.")
    else:
        console.print("Nothing pushed; the serving folder keeps its previous version.")


def print_training(result: RunResult) -> None:
    """How the Trainer started: warm from a base model (what it carried), or not at all."""
    warm = result.training_history().get("warm_start")
    if warm:
        console.print(
            f"Warm start: {warm['users_carried']:,} users and {warm['items_carried']:,} items "
            f"carried from {warm['base_model']}; {warm['users_new']:,} new users and "
            f"{warm['items_new']:,} new items start fresh; also carried: "
            f"{', '.join(p for p in warm['carried'] if p != 'embeddings') or 'nothing'}",
            highlight=False, soft_wrap=True)


def print_run_summary(config: Config, wall_seconds: float) -> RunResult:
    """Prints data, components, the evaluation table, the gate's decision and the push."""
    result = read_run(config.metadata_path)
    console.print()
    print_data(result)
    console.print(components_table(result))
    print_training(result)
    console.print(evaluation_table(result))
    print_gate_and_push(result)
    if result.tensorboard_dir:
        console.print(f"Training curves: tensorboard --logdir {result.tensorboard_dir}",
                      highlight=False, soft_wrap=True)
    console.print(f"Run {result.run_id} finished in {wall_seconds:.0f}s "
                  f"(pipeline root {config.pipeline_root}).", soft_wrap=True)
    console.print(f"Report: mtrec report {result.run_id} -o report.html "
                  f"--pipeline-root {config.pipeline_root}", highlight=False, soft_wrap=True)
    return result


def print_recommendations(subject: str, items: Sequence, model) -> None:
    """A ranked item table; `subject` names what the items are for ("user u1")."""
    table = Table(title=f"Top {len(items)} for {subject} (model version {model.version})",
                  title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("item")
    table.add_column("title")
    table.add_column("score", justify="right")
    for rank, item in enumerate(items, 1):
        table.add_row(str(rank), item.item_id, item.title, f"{item.score:.3f}")
    console.print(table)
