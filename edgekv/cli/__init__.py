"""The ``edgekv`` command line: one sub-command per module of :mod:`edgekv.cli.commands`.

Every expected mistake (bad config, bad flag value) ends in a one-line error and exit code 2,
never a traceback; warnings (e.g. a lag that anti-entropy will override) are one line each;
a closed pipe (``| head``) ends quietly with status 141.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
import warnings
from collections.abc import Sequence
from typing import Any, NoReturn

from .._core.errors import EdgekvError

__all__ = ["UsageError", "main"]

COMMANDS = ("bench", "sweep", "pbs", "regions", "serve", "anomalies", "check", "fit", "trace")
"""Sub-commands, each a module of :mod:`edgekv.cli.commands` with ``register(subparsers)``."""


class UsageError(EdgekvError):
    """A bad command-line value, reported as one line: ``path`` names the option or file
    (may be empty), ``reason`` says what is wrong."""


def seed_arg(text: str) -> int:
    """argparse type of ``--seed``: an integer >= 0 (numpy's seeding rule)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad value is one line (``edgekv bench: error: ...``), exit code 2,
    as every other mistake; ``--help`` still shows the usage. A value that starts like a
    negative number (``--duration -5s``) is taken as the option's value, so it gets the
    option's own error rather than "expected one argument" (Python 3.13's rule for argparse,
    which 3.11 and 3.12 apply only to bare numbers)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(r"^-\.?\d")

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every available sub-command."""
    parser = _Parser(
        prog="edgekv",
        description="Simulate a multi-region replicated KV store against a single-home baseline.",
        epilog="Run `edgekv COMMAND --help` for the options and an example of each command.",
    )
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_Parser
    )
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"edgekv.cli.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"edgekv.cli.commands.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``edgekv`` console script; returns the exit code."""
    try:
        code = _run(argv)
        sys.stdout.flush()  # here, not at exit, so that a closed pipe is caught below
        return code
    except BrokenPipeError:
        return _closed_pipe()
    except SystemExit as exc:
        # rich's Console ends a closed pipe with SystemExit(1) (Console.on_broken_pipe).
        if isinstance(exc.__context__, BrokenPipeError):
            return _closed_pipe()
        raise


def _closed_pipe() -> int:
    """The reader of stdout went away (``edgekv regions | head -1``): stop quietly with the
    status of a command ended by SIGPIPE (128 + 13), and point stdout at /dev/null so that
    the interpreter's final flush cannot fail again."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return PIPE_CLOSED
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
    return PIPE_CLOSED


PIPE_CLOSED = 141
"""Exit status when stdout's reader has gone: 128 + SIGPIPE, as a shell reports it."""


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)

    def warn(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
        print(f"edgekv {args.command}: warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = warn
        try:
            return int(args.func(args) or 0)
        except EdgekvError as exc:
            print(f"edgekv {args.command}: error: {exc}", file=sys.stderr)
            return 2
        except BrokenPipeError:  # stdout's reader went away: main() ends quietly
            raise
        except OSError as exc:  # an output that failed mid-run (disk full, removed folder)
            where = f"{exc.filename}: " if exc.filename else ""
            print(f"edgekv {args.command}: error: {where}{exc.strerror or exc}", file=sys.stderr)
            return 2
        except MemoryError:
            print(
                f"edgekv {args.command}: error: out of memory; use smaller sizes", file=sys.stderr
            )
            return 2
        except KeyboardInterrupt:
            return 130
