"""Run progress: plain component lines, plus a live status line on a terminal only."""

import io
import re
import logging
import time

from rich.console import Console

from mtrec.pipeline.cli import progress


def _record(message: str) -> logging.LogRecord:
    return logging.LogRecord("absl", logging.INFO, __file__, 1, message, None, None)


def test_component_lines_with_elapsed_times():
    out = io.StringIO()
    handler = progress.ComponentProgress(stream=out)
    handler.emit(_record("Component Trainer is running."))
    assert handler.current == "Trainer"
    handler.emit(_record("Component Trainer is finished."))
    lines = out.getvalue().splitlines()
    assert lines[0].endswith("▶ Trainer") and "✓ Trainer (0.0s)" in lines[1]
    assert handler.current is None


def test_a_terminal_gets_a_status_line_with_the_running_component(capsys):
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100)
    handler = progress.ComponentProgress()
    with progress.live(handler, console):
        handler.emit(_record("Component Transform is running."))
        print("Epoch 1/10")  # what Keras prints while the Trainer runs
        print("16/16 - 0s - retrieval_loss: 2251.8513 - loss: 90.1950 - total_loss: 90.1950")
        time.sleep(0.8)  # a few refreshes
    shown = screen.getvalue()
    assert "▶ Transform" in shown and "Epoch 1/10" in shown  # scrolled above the status
    # The status line itself: component, its time, epoch and loss, the run's time.
    assert re.search(r"Transform\S*\s+\d+s\s+epoch 1/10\s+loss 90.1950\s+run \d+s", shown)


def test_no_status_line_off_a_terminal(capsys):
    screen = io.StringIO()
    handler = progress.ComponentProgress()
    with progress.live(handler, Console(file=screen, force_terminal=False)):
        handler.emit(_record("Component Transform is running."))
        time.sleep(0.3)
    assert screen.getvalue() == ""  # nothing drawn: plain lines go to stdout as before
    assert "▶ Transform" in capsys.readouterr().out
