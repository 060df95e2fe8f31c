"""The config file: `mtrec init` writes a documented default, `mtrec config
show` prints the effective config."""

from __future__ import annotations

import argparse
import os
import sys

from mtrec.pipeline.cli.common import add_command, add_set_option, parse_set
from mtrec.pipeline.runtime.errors import UserFacingError


def register(commands: argparse._SubParsersAction) -> None:
    init = add_command(
        commands, "init", _init, "write a documented default config file",
        "Writes every setting with its default and a comment; edit it and pass it as "
        "`mtrec run --config FILE`. Refuses to overwrite an existing file.")
    init.add_argument("path", nargs="?", default="mtrec.toml", metavar="FILE",
                      help="file to write (default mtrec.toml)")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")

    config = commands.add_parser("config", help="inspect the configuration",
                                 description="Configuration commands.")
    config_commands = config.add_subparsers(dest="config_command", required=True,
                                            metavar="SUBCOMMAND")
    show = add_command(
        config_commands, "show", _show, "print the effective config as TOML",
        "Prints the config a `mtrec run` with the same --config and options would use: "
        "defaults, then the file, then the options.")
    show.add_argument("--config", help="TOML config file")
    add_set_option(show, ", as for `mtrec run`")


def _init(args: argparse.Namespace) -> int:
    from mtrec.pipeline.config_file import template

    if os.path.exists(args.path) and not args.force:
        raise UserFacingError(f"{args.path} already exists (--force overwrites it)")
    with open(args.path, "w", encoding="utf-8") as handle:
        handle.write(template())
    print(f"wrote {args.path}; edit it, then: mtrec run --config {args.path}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from mtrec.pipeline.config import load_config
    from mtrec.pipeline.config_file import dump

    sys.stdout.write(dump(load_config(args.config, parse_set(args.set))))
    return 0
