"""The ``edgekv`` command line: one sub-command per module of :mod:`edgekv.commands`.

Every expected mistake (bad config, bad flag value) ends in a one-line error and exit code 2,
never a traceback; warnings (e.g. a lag that anti-entropy will override) are one line each.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Sequence
from typing import Any

from ._errors import ConfigError

__all__ = ["main"]

COMMANDS = ("bench", "sweep", "pbs", "regions", "serve", "anomalies", "check", "fit", "trace")
"""Sub-commands, each a module of :mod:`edgekv.commands` with ``register(subparsers)``."""


class UsageError(Exception):
    """A bad command-line value, reported as one line."""


def seed_arg(text: str) -> int:
    """argparse type of ``--seed``: an integer >= 0 (numpy's seeding rule)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every available sub-command."""
    parser = argparse.ArgumentParser(
        prog="edgekv",
        description="Simulate a multi-region replicated KV store against a single-home baseline.",
        epilog="Run `edgekv COMMAND --help` for the options and an example of each command.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"edgekv.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"edgekv.commands.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``edgekv`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)

    def warn(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
        print(f"edgekv {args.command}: warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = warn
        try:
            return int(args.func(args) or 0)
        except (ConfigError, UsageError) as exc:
            print(f"edgekv {args.command}: error: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            return 130


if __name__ == "__main__":
    # Run the imported module's main: the commands raise ``edgekv.cli.UsageError``, which
    # ``__main__.main`` would not catch (a second copy of this module).
    from edgekv.cli import main as _main

    sys.exit(_main())
