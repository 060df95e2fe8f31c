"""What several command groups share: exit statuses, argument types, the
serving and pipeline-root options, and how a command finds its model.

Nothing here imports TensorFlow at module level, so `mtrec --help` and the
commands that never load a model stay quick.
"""

from __future__ import annotations

import argparse
from typing import Any, Callable, Dict, Optional, Sequence

from mtrec.pipeline.runtime.errors import UserFacingError

EXIT_FAILED = 1  # a component failed
EXIT_USAGE = 2  # bad input or configuration: one line, no traceback
EXIT_NOT_BLESSED = 3  # the run completed, but the model was not blessed or not pushed


def add_command(commands: argparse._SubParsersAction, name: str, handler: Callable[..., int],
                help: str, description: Optional[str] = None) -> argparse.ArgumentParser:
    """A subcommand whose parsed arguments `main` passes to `handler`."""
    parser = commands.add_parser(name, help=help, description=description or help)
    parser.set_defaults(handler=handler)
    return parser


def add_k_option(parser: argparse.ArgumentParser, what: str) -> None:
    """-k: how many results (the model's max_k bounds it)."""
    parser.add_argument("-k", type=positive_int, default=10, help=f"number of {what} (default 10)")


def add_output_option(parser: argparse.ArgumentParser, what: str = "the table") -> None:
    """--output: the Markdown file a benchmark writes its section to."""
    parser.add_argument("--output", default="docs/benchmarks.md",
                        help=f"markdown file to write {what} to (default docs/benchmarks.md)")


def add_set_option(parser: argparse.ArgumentParser, example: str = "") -> None:
    """The repeatable --set section.key=value option."""
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help=f"any config value{example} (repeatable)")


def parse_set(values: Sequence[str]) -> Dict[str, Any]:
    """--set section.key=value pairs; values are parsed as TOML scalars or lists."""
    import tomli

    overrides = {}
    for item in values:
        if "=" not in item:
            raise UserFacingError(f"--set {item!r}: expected section.key=value")
        key, raw = item.split("=", 1)
        try:
            overrides[key.strip()] = tomli.loads(f"v = {raw}")["v"]
        except tomli.TOMLDecodeError:
            overrides[key.strip()] = raw  # a bare string
    return overrides


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (argparse reports anything else, exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def add_serving_options(parser: argparse.ArgumentParser) -> None:
    """--config, --serving-dir and --model-name: where a command finds pushed models."""
    parser.add_argument("--config", help="TOML config file (its [serving] section is used)")
    parser.add_argument("--serving-dir", help="folder the Pusher publishes to "
                        "(default: serving.serving_dir of the config)")
    parser.add_argument("--model-name", help="model name under the serving folder "
                        "(default: serving.model_name of the config)")


def serving_location(args: argparse.Namespace, config=None) -> tuple:
    """(serving_dir, model_name) from the options, else from `config` (default:
    the one --config names)."""
    from mtrec.pipeline.config import load_config

    serving = (config or load_config(args.config)).serving
    return args.serving_dir or serving.serving_dir, args.model_name or serving.model_name


def serving_base(args: argparse.Namespace, config=None) -> str:
    """The folder holding every pushed version of the model the options name."""
    from mtrec.serving.versions import model_base_dir

    return model_base_dir(*serving_location(args, config))


def load_latest_model(args: argparse.Namespace):
    """The newest pushed version of the model the options name, loaded."""
    from mtrec.serving.loader import PushedModel

    return PushedModel.latest(*serving_location(args))


def add_pipeline_root_options(parser: argparse.ArgumentParser) -> None:
    """--config and --pipeline-root: where a command finds ML Metadata."""
    parser.add_argument("--config", help="TOML config file (its pipeline_root is read)")
    parser.add_argument("--pipeline-root", help="folder of artifacts and ML Metadata "
                        "(default: pipeline_root of the config)")


def pipeline_config(args: argparse.Namespace):
    """The config the options name, with --pipeline-root applied."""
    from mtrec.pipeline.config import load_config

    config = load_config(args.config)
    if args.pipeline_root:
        config.pipeline_root = args.pipeline_root
    return config


def quiet_tensorflow(args: argparse.Namespace) -> None:
    """TensorFlow and TFMA log deprecation notes on import and read; --debug shows them."""
    import logging

    if not args.debug:
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
        from absl import logging as absl_logging
        absl_logging.set_verbosity(absl_logging.ERROR)
