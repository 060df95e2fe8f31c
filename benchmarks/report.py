"""docs/benchmarks.md: one section per benchmark, replaced by each new run."""

from __future__ import annotations

import os
import platform

HEADER = ("# Benchmarks\n\nWritten by the `mtrec bench ...` commands; each section is "
          "replaced by the command's latest run. Numbers, not adjectives.\n")


def machine() -> str:
    return f"{os.cpu_count()} CPU cores, {platform.machine()}, Python {platform.python_version()}"


def write_section(path: str, section: str) -> None:
    """Puts `section` (starting '## Title') into the file, replacing its older run."""
    title = section.splitlines()[0]
    text = open(path, encoding="utf-8").read() if os.path.exists(path) else HEADER
    start = text.find(title + "\n")
    if start >= 0:
        end = text.find("\n## ", start + len(title))
        text = text[:start] + section.rstrip("\n") + "\n" + (text[end:] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n"
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
