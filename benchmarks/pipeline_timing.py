"""Runs a command (`mtrec run ...`) in a child process and measures it: wall
time, each component's time and each component's peak memory.

Time per component comes from the run's own progress lines ("✓ Trainer
(81.2s)"). Memory is sampled four times a second as the resident set size of
the whole process tree (the run and the Beam workers it starts, and on Flink
the cluster's detached JVMs), and each
sample is charged to the component running at that moment, so a component's
peak is the most the machine held for the run while it ran.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import threading
import time
from typing import Callable, Dict, List, Optional, Sequence

import psutil

_STARTED = re.compile(r"▶ (?P<name>\S+)$")
_FINISHED = re.compile(r"✓ (?P<name>\S+) \((?P<seconds>[0-9.]+)s\)$")
_SAMPLE_SECONDS = 0.25
BETWEEN = "outside the components (imports, input checks, summary)"


@dataclasses.dataclass
class TimedRun:
    """What one `mtrec run` cost."""

    wall_seconds: float
    exit_code: Optional[int]  # None: stopped at the time limit
    component_seconds: Dict[str, float]  # in the order the components finished
    component_peak_bytes: Dict[str, int]
    peak_bytes: int
    output_tail: List[str]


def run_metrics(pipeline_root: str) -> Dict[str, float]:
    """The Evaluator's metrics of the newest run under `pipeline_root`."""
    from mtrec.pipeline.config import metadata_path
    from mtrec.pipeline.runs.results import read_run

    run = read_run(metadata_path(pipeline_root))
    return {row.name: row.value for row in run.metrics}


def mtrec_command() -> List[str]:
    """The CLI of the running interpreter's environment."""
    return [sys.executable, "-m", "mtrec.pipeline.cli"]


def _tree_rss(process: psutil.Process, other_pids: Sequence[int] = ()) -> int:
    """Resident bytes of `process`, its descendants, and the processes `other_pids`
    and theirs (daemons outside the tree: a Flink cluster's JVMs), each once."""
    members = {process.pid: process}
    for member in process.children(recursive=True):
        members[member.pid] = member
    for pid in other_pids:
        try:
            root = psutil.Process(pid)
            for member in [root] + root.children(recursive=True):
                members.setdefault(member.pid, member)
        except psutil.NoSuchProcess:  # a daemon that stopped since its pid was read
            continue
    total = 0
    for member in members.values():
        try:
            total += member.memory_info().rss
        except psutil.NoSuchProcess:  # a Beam worker that exited between listing and reading
            continue
    return total


def mtrec_run(run_args: Sequence[str]) -> List[str]:
    """The command line of `mtrec run <run_args>`."""
    return mtrec_command() + ["run", *run_args]


def timed_run(command: Sequence[str], time_limit_seconds: float,
              echo: Callable[[str], None] = print,
              other_pids: Callable[[], Sequence[int]] = tuple) -> TimedRun:
    """Runs `command`, echoing its output; stops it (and its children) after
    `time_limit_seconds`. Memory samples also count `other_pids()` (read at
    every sample: daemons the run starts outside its process tree)."""
    started = time.monotonic()
    child = subprocess.Popen(list(command), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, bufsize=1,
                             env=dict(os.environ, PYTHONUNBUFFERED="1"))
    tree = psutil.Process(child.pid)
    current = [BETWEEN]
    peaks: Dict[str, int] = {}
    finished = threading.Event()

    def sample() -> None:
        while not finished.wait(_SAMPLE_SECONDS):
            try:
                rss = _tree_rss(tree, other_pids())
            except psutil.NoSuchProcess:  # the run itself has exited
                return
            peaks[current[0]] = max(peaks.get(current[0], 0), rss)

    def stop_at_limit() -> None:
        if not finished.wait(time_limit_seconds):
            for member in tree.children(recursive=True) + [tree]:
                member.kill()

    threads = [threading.Thread(target=sample, daemon=True),
               threading.Thread(target=stop_at_limit, daemon=True)]
    for thread in threads:
        thread.start()
    seconds: Dict[str, float] = {}
    tail: List[str] = []
    for line in child.stdout:
        line = line.rstrip("\n")
        echo(line)
        tail = (tail + [line])[-40:]
        if match := _STARTED.search(line):
            current[0] = match["name"]
        elif match := _FINISHED.search(line):
            seconds[match["name"]] = float(match["seconds"])
            current[0] = BETWEEN
    exit_code = child.wait()
    finished.set()
    wall = time.monotonic() - started
    timed_out = exit_code < 0 and wall >= time_limit_seconds
    return TimedRun(wall_seconds=wall, exit_code=None if timed_out else exit_code,
                    component_seconds=seconds, component_peak_bytes=peaks,
                    peak_bytes=max(peaks.values(), default=0), output_tail=tail)
