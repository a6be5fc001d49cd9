"""The ``--json PATH`` option shared by the benchmark scripts: every printed figure, as one
JSON object, so tests and tools read values instead of parsing sentences.

``--json -`` writes the object to stdout and moves the human table to stderr, so stdout
parses as JSON; ``--json PATH`` writes it to a file and leaves the table on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from typing import Any


def add_json_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--json PATH`` (``-`` for stdout) to a benchmark's parser."""
    parser.add_argument(
        "--json",
        metavar="PATH",
        help="also write every printed figure as one JSON object to PATH ('-': stdout, "
        "the table then goes to stderr)",
    )


@contextlib.contextmanager
def json_report(path: str | None) -> Iterator[dict[str, Any]]:
    """Yield the dict a script fills with what it prints; on success write it to ``path``.

    A file ``path`` is opened before the run, so an unwritable one fails in a line at once."""
    report: dict[str, Any] = {}
    if path == "-":
        with contextlib.redirect_stdout(sys.stderr):
            yield report
        sys.stdout.write(json.dumps(report, allow_nan=False) + "\n")
        return
    if path is None:
        yield report
        return
    try:
        out = open(path, "w", encoding="utf-8")  # noqa: SIM115 - held open across the run
    except OSError as exc:
        raise SystemExit(f"--json: cannot write {path}: {exc.strerror}") from None
    with out:
        yield report
        out.write(json.dumps(report, indent=2, allow_nan=False) + "\n")
