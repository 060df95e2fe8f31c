"""Shows which component is running and how long each took.

LocalDagRunner logs 'Component X is running.' and 'Component X is finished.';
this handler turns those records into one line per event, with elapsed times.
Other records are shown only at ERROR and above: TFX, TFT and Beam log
known-benign warnings on every run (unsupported MLMD predicates, table
initialisation notes, missing optional speed-ups) that would bury the
progress. `--debug` shows every record.

On a terminal, `live` adds a status line under the log (rich): a spinner, the
running component, its elapsed time, the Trainer's epoch and last loss, and
the run's time, refreshed four times a second; the component lines and the
Trainer's per-epoch losses scroll above it. When output is not a terminal (CI, Airflow, a pipe) there is no status
line, only the plain lines.
"""

from __future__ import annotations

import logging
import re
import contextlib
import sys
import time
from typing import Iterator, Optional, TextIO

_EVENT = re.compile(r"^Component (?P<name>\S+) is (?P<event>running|finished)\.$")
# What Keras prints per epoch (verbose=2): "Epoch 3/10", then "... - loss: 141.3667 - ...".
_EPOCH = re.compile(r"\bEpoch (\d+)/(\d+)")
_LOSS = re.compile(r"\s-\s+loss: ([0-9.eE+-]+)")


class ComponentProgress(logging.Handler):
    """A logging handler printing component start/finish lines."""

    def __init__(self, stream: Optional[TextIO] = None, debug: bool = False):
        """`stream`: where progress goes; None means whatever sys.stdout is at
        the time of each line (it may be replaced after the handler is made)."""
        super().__init__(level=logging.DEBUG)
        self.stream = stream
        self.debug = debug
        self.started = time.monotonic()
        self._component_started: dict[str, float] = {}
        self.current: Optional[str] = None
        self.epoch: Optional[str] = None  # "3/10" while the Trainer trains
        self.loss: Optional[str] = None

    def emit(self, record: logging.LogRecord) -> None:
        match = _EVENT.match(record.getMessage())
        now = time.monotonic()
        if match:
            name = match["name"]
            if match["event"] == "running":
                self.current = name
                self.epoch = self.loss = None
                self._component_started[name] = now
                line = f"[{now - self.started:6.1f}s] ▶ {name}"
            else:
                self.current = None
                took = now - self._component_started.get(name, now)
                line = f"[{now - self.started:6.1f}s] ✓ {name} ({took:.1f}s)"
            print(line, file=self.stream or sys.stdout, flush=True)
        elif self.debug or record.levelno >= logging.ERROR:
            print(self.format(record), file=sys.stderr, flush=True)


class _Status:
    """The live status line's text, computed at each refresh."""

    def __init__(self, handler: ComponentProgress):
        self.handler = handler

    def __rich__(self):
        from rich.text import Text

        now = time.monotonic()
        run = now - self.handler.started
        name = self.handler.current
        if name is None:
            return Text(f"between components   run {run:.0f}s", style="dim")
        took = now - self.handler._component_started.get(name, now)
        training = ""
        if self.handler.epoch:
            training = f"   epoch {self.handler.epoch}" + (
                f"  loss {self.handler.loss}" if self.handler.loss else "")
        return Text.assemble((name, "bold"), f"  {took:.0f}s{training}   run {run:.0f}s")


class _TrainingWatcher:
    """A stdout wrapper that notes Keras' epoch and loss for the status line."""

    def __init__(self, target, handler: ComponentProgress):
        self._target = target
        self._handler = handler

    def write(self, text: str) -> int:
        epoch = _EPOCH.search(text)
        if epoch:
            self._handler.epoch = f"{epoch[1]}/{epoch[2]}"
        loss = _LOSS.search(text)
        if loss:
            self._handler.loss = loss[1]
        return self._target.write(text)

    def __getattr__(self, name):
        return getattr(self._target, name)


@contextlib.contextmanager
def live(handler: ComponentProgress, console=None) -> Iterator[None]:
    """A status line at the bottom of the terminal while the block runs (no-op off a terminal).

    `console`: a rich Console (default: one on stdout, a terminal or not as stdout is).
    """
    from rich.console import Console
    from rich.live import Live
    from rich.spinner import Spinner

    console = console or Console()
    if not console.is_terminal:
        yield
        return
    with Live(Spinner("dots", text=_Status(handler)), console=console, refresh_per_second=4,
              transient=True, redirect_stdout=True, redirect_stderr=True):
        redirected = sys.stdout
        sys.stdout = _TrainingWatcher(redirected, handler)
        try:
            yield
        finally:
            sys.stdout = redirected  # Live restores the original on exit


def install(debug: bool = False) -> ComponentProgress:
    """Routes the `absl` logger, which TFX logs through, to the handler.

    Components reconfigure the root logger while they run (Beam, Keras), so
    the handler sits on the `absl` logger itself and does not propagate. The
    level is set through absl's verbosity flag, not on the logger: TensorFlow
    saves and restores that flag around SavedModel export, which would undo a
    level set directly.
    """
    from absl import logging as absl_logging

    handler = ComponentProgress(debug=debug)
    absl_logger = logging.getLogger("absl")
    for existing in list(absl_logger.handlers):
        absl_logger.removeHandler(existing)
    absl_logger.addHandler(handler)
    absl_logging.set_verbosity(absl_logging.DEBUG if debug else absl_logging.INFO)
    absl_logger.propagate = False
    # Everything not logged through absl (Beam, TensorFlow's Python logger)
    # reaches the root logger: the same rule, through the same handler.
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.ERROR)
    for name in ("tensorflow", "apache_beam"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    return handler
