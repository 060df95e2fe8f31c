"""The `mtrec` entry point: one parser, a command group per module, one error policy.

Each group module registers its parsers and handlers (`register`); `main` only
dispatches. Exit status: 0 success; 1 a component failed; 2 bad input or
configuration (one clear line, no traceback; `--debug` shows it and every log
line); 3 the run completed but the model was not blessed (or its index was
refused), so nothing was pushed.
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from mtrec.pipeline.cli import bench, config, data, flink, query, run, runs, serving
from mtrec.pipeline.cli.common import EXIT_FAILED, EXIT_USAGE
from mtrec.pipeline.runtime.errors import UserFacingError

GROUPS = (run, query, serving, runs, config, flink, bench, data)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mtrec", description="A multi-task (retrieval + rating) recommender pipeline on TFX.")
    parser.add_argument("--debug", action="store_true",
                        help="show full tracebacks and every log line")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(commands)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except UserFacingError as error:
        if args.debug:
            raise
        print(f"mtrec {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except RuntimeError as error:
        if args.debug:
            raise
        print(f"mtrec {args.command}: error: {error}\n(run again with --debug for the "
              f"full traceback)", file=sys.stderr)
        return EXIT_FAILED
