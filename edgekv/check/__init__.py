"""Consistency checkers for recorded histories: linearizability, session guarantees,
convergence and bounded staleness, each reporting minimal counterexamples; Jepsen/Elle
history files in and out. Pure: no I/O beyond the file helpers, no event loop."""

from ._brute import MAX_BRUTE_FORCE, Agreement, agreement, brute_force_linearizable
from ._convergence import check_convergence
from ._formats import (
    dumps_edn,
    dumps_json,
    from_jepsen,
    load_history,
    loads_edn,
    loads_json,
    loads_jsonl,
    save_history,
    to_jepsen,
)
from ._generate import simulate_register
from ._history import History, Operation, precedes
from ._linear import check_linearizable, is_linearizable, minimal_counterexample
from ._models import MODELS, check
from ._result import CheckResult, Violation
from ._session import GUARANTEES, check_session
from ._staleness import check_staleness

__all__ = [
    "GUARANTEES",
    "MAX_BRUTE_FORCE",
    "MODELS",
    "Agreement",
    "CheckResult",
    "History",
    "Operation",
    "Violation",
    "agreement",
    "brute_force_linearizable",
    "check",
    "check_convergence",
    "check_linearizable",
    "check_session",
    "check_staleness",
    "dumps_edn",
    "dumps_json",
    "from_jepsen",
    "is_linearizable",
    "load_history",
    "loads_edn",
    "loads_json",
    "loads_jsonl",
    "minimal_counterexample",
    "precedes",
    "save_history",
    "simulate_register",
    "to_jepsen",
]
