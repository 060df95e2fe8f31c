"""The config as text: `mtrec init` writes a documented default, `mtrec config
show` prints the effective one, and docs/configuration.md holds the table of
every setting.

All three are generated from the `Config` dataclasses, so a default and a
description are each written in one place only: on the field in config.py
(`setting(..., help=...)`). A test checks that docs/configuration.md is up to
date and that the file `init` writes loads back to the defaults.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Dict, List

from mtrec.pipeline.config import Config

DOCS_BEGIN = "<!-- BEGIN GENERATED: config fields -->"
DOCS_END = "<!-- END GENERATED: config fields -->"


def descriptions() -> Dict[str, str]:
    """{dotted key: its help text} for every setting."""
    return {_dotted(section, key): help_text for section, items in _sections(Config())
            for key, _, help_text in items}


def _dotted(section: str, key: str) -> str:
    return f"{section}.{key}" if section else key


# Keys `init` leaves commented out: their defaults depend on the installation
# (the embedded sample's absolute path) or on another key (the preset).
_COMMENTED_OUT = {"data.ratings_dir", "data.items_file", "model.retrieval_weight",
                  "model.rating_weight"}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def _sections(config: Config) -> List[tuple]:
    """[(section name or "", [(key, value, help), ...]), ...] in declaration order."""
    top, nested = [], []
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value):
            nested.append((field.name, [(f.name, getattr(value, f.name), f.metadata["help"])
                                        for f in dataclasses.fields(value)]))
        else:
            top.append((field.name, value, field.metadata["help"]))
    return [("", top)] + nested


def dump(config: Config) -> str:
    """The effective config as TOML (unset optional keys as comments)."""
    lines = []
    for section, items in _sections(config):
        if section:
            lines += ["", f"[{section}]"]
        for key, value, _ in items:
            lines.append(f"# {key} = (unset)" if value is None else f"{key} = {_toml_value(value)}")
    return "\n".join(lines).lstrip("\n") + "\n"


def template() -> str:
    """The documented default config `mtrec init` writes."""
    lines = ["# mtrec run configuration. Every key is optional; a missing key keeps the",
             "# default shown. Command-line options override this file:",
             "#   mtrec run --config mtrec.toml --epochs 5 --set gate.max_rmse=0.95",
             "# `mtrec config show --config mtrec.toml` prints the effective config."]
    for section, items in _sections(Config()):
        if section:
            lines += ["", f"[{section}]"]
        for key, value, help_text in items:
            dotted = _dotted(section, key)
            lines.append(f"# {help_text}")
            text = "(the preset)" if value is None else _toml_value(value)
            prefix = "# " if dotted in _COMMENTED_OUT else ""
            lines.append(f"{prefix}{key} = {text}")
    return "\n".join(lines) + "\n"


def docs_table() -> str:
    """The Markdown table of every setting, its default and its description."""
    rows = ["| key | default | description |", "| --- | --- | --- |"]
    for section, items in _sections(Config()):
        for key, value, help_text in items:
            dotted = _dotted(section, key)
            if value is None:
                default = "(the preset)"
            elif dotted in _COMMENTED_OUT:
                default = "(the embedded sample)"
            else:
                default = f"`{_toml_value(value)}`"
            description = help_text.replace("|", "\\|")
            rows.append(f"| `{dotted}` | {default} | {description} |")
    return "\n".join(rows) + "\n"


def render_docs(page: str) -> str:
    """`page` (docs/configuration.md) with the generated table between its markers."""
    if DOCS_BEGIN not in page or DOCS_END not in page:
        raise ValueError(f"the page lacks the {DOCS_BEGIN} ... {DOCS_END} markers")
    head, rest = page.split(DOCS_BEGIN, 1)
    _, tail = rest.split(DOCS_END, 1)
    return f"{head}{DOCS_BEGIN}\n{docs_table()}{DOCS_END}{tail}"


if __name__ == "__main__":  # `make docs`: rewrites the table in the page given
    import pathlib
    import sys

    page = pathlib.Path(sys.argv[1])
    page.write_text(render_docs(page.read_text(encoding="utf-8")), encoding="utf-8")
