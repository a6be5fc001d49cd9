"""``edgekv check``: check a recorded history file (Jepsen/Elle rw-register EDN or JSON)
against a consistency model and print the minimal counterexamples of each violation."""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from ..._bench.report import STDOUT, write_json
from ..._core.distributions import parse_duration
from ..._core.errors import ConfigError
from ...check import check, load_history
from .. import UsageError

__all__ = ["register", "run"]

MODELS = ("linearizable", "session", "staleness")

EXAMPLE = """example:
  edgekv check history.edn --model linearizable
  edgekv check history.json --model session --json -
  edgekv check history.edn --model staleness --max-versions 1 --max-seconds 300ms

Exit status: 0 when the history satisfies the model, 1 when it does not (each violation is
printed with the few operations that show it), 2 when the file cannot be read as a history.
A history holds Jepsen ops {:type :invoke|:ok|:fail|:info, :f :read|:write,
:value [[:r k v]] or [[:w k v]], :process p, :time ns, :index i}; the session and staleness
models also need edgekv's :version of each read and write (as `edgekv` writes them)."""


def _count(text: str) -> int:
    """argparse type of ``--max-versions``: an integer >= 0."""
    if not re.fullmatch(r"\d+", text):
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return int(text)


def _seconds(text: str) -> float:
    """argparse type of ``--max-seconds``: a duration with its unit, ``300ms`` or ``2s``."""
    try:
        return parse_duration(text, "max-seconds", bare="error")
    except ConfigError:
        raise argparse.ArgumentTypeError(
            f"expected a duration such as 300ms or 2s, got {text!r}"
        ) from None


def register(subparsers: Any) -> None:
    """Add the ``check`` parser."""
    parser = subparsers.add_parser(
        "check",
        help="check a history file for linearizability, session guarantees or staleness",
        description="Check a recorded history (EDN or JSON, Jepsen's rw-register shape) "
        "against a consistency model; print minimal counterexamples.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "history", metavar="HISTORY", help="a .edn or .json history file, or a recorder's .jsonl"
    )
    parser.add_argument("--model", choices=MODELS, required=True, help="the model to check")
    parser.add_argument(
        "--max-versions", type=_count, metavar="K", help="staleness: versions a read may miss"
    )
    parser.add_argument(
        "--max-seconds",
        type=_seconds,
        metavar="DURATION",
        help="staleness: how old a missed write may be, with its unit (300ms, 2s)",
    )
    parser.add_argument(
        "--limit", type=_count, default=5, help="violations to print (default 5, 0 = all)"
    )
    parser.add_argument("--json", metavar="PATH", help="write the verdict as JSON ('-': stdout)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Check the file, print the verdict; returns 0 (ok) or 1 (violated)."""
    bounds = args.max_versions is not None or args.max_seconds is not None
    if args.model == "staleness" and not bounds:
        raise UsageError("--model", "staleness needs --max-versions, --max-seconds or both")
    if args.model != "staleness" and bounds:
        raise UsageError(
            "--model", f"{args.model} takes no --max-versions or --max-seconds (staleness only)"
        )
    result = check(
        load_history(args.history),
        args.model,
        max_versions=args.max_versions,
        max_seconds=args.max_seconds,
    )
    if args.json == STDOUT:
        write_json(STDOUT, result.to_json())
    else:
        if args.json:
            try:
                with open(args.json, "w", encoding="utf-8") as fh:
                    json.dump(result.to_json(), fh, indent=2)
            except OSError as exc:
                raise UsageError("--json", f"cannot write {args.json}: {exc.strerror}") from None
        print(result.describe(limit=args.limit or None))
    return 0 if result.ok else 1
