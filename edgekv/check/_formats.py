"""Jepsen/Elle-compatible history files: the rw-register shape, as EDN (one op map per line,
as Jepsen's ``history.edn``) or JSON (a list of the same maps).

Each operation becomes an invocation and a completion:
``{:type :invoke|:ok|:fail|:info, :f :read|:write, :value [[:r k v]] or [[:w k v]],
:process p, :time ns, :index i}`` plus edgekv's ``:session``, ``:region``, ``:version`` and
``:error``. A write that did not end ok completes ``:info`` (maybe applied); a read that did
not, ``:fail``. Jepsen's processes are single-threaded, so a session with overlapping
operations gets one process number per concurrent slot (``:session`` keeps its name).
Importing follows Jepsen's meaning: a ``:fail`` write never happened and is dropped, an
invocation without completion is ``:info``; ``:f :txn`` with one micro-op (Elle) is accepted.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .._core.errors import ConfigError
from ._history import History, Operation

__all__ = [
    "Keyword",
    "dumps_edn",
    "dumps_json",
    "from_jepsen",
    "load_history",
    "loads_edn",
    "loads_json",
    "loads_jsonl",
    "parse_edn",
    "save_history",
    "to_jepsen",
]


@dataclass(frozen=True, slots=True)
class Keyword:
    """An EDN keyword such as ``:invoke`` (``name`` without the colon)."""

    name: str

    def __str__(self) -> str:
        return f":{self.name}"


_KW = {name: Keyword(name) for name in ("invoke", "ok", "fail", "info", "read", "write", "r", "w")}


def _ns(t: float) -> int:
    return round(t * 1e9)


def to_jepsen(history: Iterable[Operation]) -> list[dict[str, Any]]:
    """The history as Jepsen op maps in time order (keywords as :class:`Keyword`)."""
    ops = sorted(history, key=lambda o: (_ns(o.invoke), _ns(o.complete)))
    slots: dict[str, list[tuple[int, int, int]]] = {}  # session -> [(process, end, start)]
    numbers = 0
    entries: list[tuple[tuple[int, int, int], dict[str, Any]]] = []
    for seq, op in enumerate(ops):
        start, end = _ns(op.invoke), _ns(op.complete)
        mine = slots.setdefault(op.process, [])
        for j, (proc, busy, began) in enumerate(mine):
            if busy < start or (busy == start and began < busy):
                mine[j] = (proc, end, start)
                break
        else:
            proc = numbers
            numbers += 1
            mine.append((proc, end, start))
        tag = _KW["r"] if op.kind == "read" else _KW["w"]
        common = {"process": proc, "f": _KW[op.kind], "session": op.process, "region": op.region}
        asked = [[tag, op.key, None if op.kind == "read" else op.value]]
        invoke = {"type": _KW["invoke"], **common, "value": asked, "time": start}
        kind = "ok" if op.ok else ("fail" if op.kind == "read" else "info")
        done = {
            "type": _KW[kind],
            **common,
            "value": [[tag, op.key, op.value]],
            "time": end,
            "version": op.version,
        }
        if not op.ok:
            done["error"] = Keyword(op.outcome)
        # At one instant: completions first, then invocations, then zero-length completions,
        # so a process never has two operations open and an operation never ends before it
        # begins.
        entries.append(((start, 1, seq), invoke))
        entries.append(((end, 2 if end == start else 0, seq), done))
    entries.sort(key=lambda item: item[0])
    return [{**entry, "index": i} for i, (_, entry) in enumerate(entries)]


# ---- EDN writing and reading (the subset these files use) ----


def _edn(value: Any) -> str:
    if value is None:
        return "nil"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, Keyword):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError("value", f"EDN has no {value!r}")
        text = repr(value)
        return text if any(c in text for c in ".eE") else text + ".0"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + " ".join(_edn(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_edn(k)} {_edn(v)}" for k, v in value.items()) + "}"
    raise ConfigError("value", f"cannot write {type(value).__name__} {value!r} as EDN")


def dumps_edn(history: Iterable[Operation]) -> str:
    """The history as EDN, one Jepsen op map per line (field names as keywords)."""
    return "".join(
        "{" + ", ".join(f":{k} {_edn(v)}" for k, v in m.items()) + "}\n" for m in to_jepsen(history)
    )


def _plain(value: Any) -> Any:
    if isinstance(value, Keyword):
        return value.name
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {
            str(_plain(k)) if isinstance(k, Keyword) else k: _plain(v) for k, v in value.items()
        }
    return value


def dumps_json(history: Iterable[Operation]) -> str:
    """The history as JSON: a list of the same op maps, keywords as strings."""
    return json.dumps([_plain(m) for m in to_jepsen(history)], indent=1) + "\n"


_TOKEN = re.compile(
    r"""(?P<skip>[\s,]+|;[^\n]*)
    |(?P<open>\#\{|[\[{(])
    |(?P<close>[\]})])
    |(?P<string>"(?:[^"\\]|\\.)*")
    |(?P<tag>\#[A-Za-z][^\s,\[\]{}()"]*)
    |(?P<atom>[^\s,\[\]{}()";]+)""",
    re.VERBOSE | re.DOTALL,
)
_INT = re.compile(r"[-+]?\d+N?")
_FLOAT = re.compile(r"[-+]?\d+(\.\d*)?([eE][-+]?\d+)?M?")
_CLOSE = {"[": "]", "(": ")", "{": "}", "#{": "}"}


def parse_edn(text: str) -> list[Any]:
    """Every top-level form of an EDN text: nil, booleans, integers, floats, strings,
    keywords, vectors, lists, maps and sets (as lists); tagged forms read as their form."""
    stack: list[tuple[str, list[Any], int]] = [("", [], 0)]
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ConfigError(f"offset {pos}", f"cannot read EDN at {text[pos : pos + 20]!r}")
        pos = m.end()
        kind = m.lastgroup
        token = m.group()
        if kind in ("skip", "tag"):
            continue
        if kind == "open":
            stack.append((token, [], m.start()))
            continue
        if kind == "close":
            opener, items, at = stack.pop() if len(stack) > 1 else ("", [], m.start())
            if _CLOSE.get(opener) != token:
                raise ConfigError(f"offset {m.start()}", f"unexpected {token!r}")
            if opener == "{":
                if len(items) % 2:
                    raise ConfigError(f"offset {at}", "map with an odd number of forms")
                try:
                    value: Any = dict(zip(items[::2], items[1::2], strict=True))
                except TypeError as exc:
                    raise ConfigError(f"offset {at}", f"unusable map key ({exc})") from None
            else:
                value = items
        elif kind == "string":
            try:
                value = json.loads(token)
            except json.JSONDecodeError:
                raise ConfigError(f"offset {m.start()}", f"bad string {token[:20]!r}") from None
        else:
            value = _atom(token, m.start())
        stack[-1][1].append(value)
    if len(stack) > 1:
        raise ConfigError(f"offset {stack[-1][2]}", f"{stack[-1][0]!r} is never closed")
    return stack[0][1]


def _atom(token: str, at: int) -> Any:
    if token == "nil":
        return None
    if token in ("true", "false"):
        return token == "true"
    if token.startswith(":") and len(token) > 1:
        return Keyword(token[1:])
    if _INT.fullmatch(token):
        return int(token.rstrip("N"))
    if _FLOAT.fullmatch(token):
        return float(token.rstrip("M"))
    raise ConfigError(f"offset {at}", f"unsupported EDN form {token!r}")


# ---- import ----


def _name(value: Any) -> Any:
    return value.name if isinstance(value, Keyword) else value


def _field(entry: dict[Any, Any], name: str) -> Any:
    if Keyword(name) in entry:
        return entry[Keyword(name)]
    return entry.get(name)


def _value(value: Any, path: str) -> Any:
    """A JSON-able value from an EDN or JSON one (keywords become their names)."""
    if isinstance(value, Keyword):
        return value.name
    if isinstance(value, list):
        return [_value(v, path) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            k = _name(k)
            if not isinstance(k, str):
                raise ConfigError(path, f"map keys must be strings or keywords, got {k!r}")
            out[k] = _value(v, path)
        return out
    return value


def from_jepsen(entries: list[Any]) -> History:
    """Pair invocations with completions per process into operations; ConfigError naming
    the entry and field for anything that is not a single-key rw-register history."""
    pending: dict[Any, tuple[int, dict[str, Any], float]] = {}
    timed = [isinstance(e, dict) and _field(e, "time") is not None for e in entries]
    if any(timed) and not all(timed):
        raise ConfigError(f"history[{timed.index(False)}].time", "missing (others have one)")
    done: list[tuple[int, Operation]] = []
    last = 0.0
    for i, entry in enumerate(entries):
        path = f"history[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(path, f"expected an op map, got {entry!r}")
        process = _name(_field(entry, "process"))
        if process == "nemesis":
            continue
        if process is None or isinstance(process, bool | float | list | dict):
            raise ConfigError(f"{path}.process", f"expected a process id, got {process!r}")
        kind = _name(_field(entry, "type"))
        if kind not in ("invoke", "ok", "fail", "info"):
            raise ConfigError(f"{path}.type", f"expected invoke, ok, fail or info, got {kind!r}")
        raw_time = _field(entry, "time") if all(timed) else i
        if isinstance(raw_time, bool) or not isinstance(raw_time, int | float):
            raise ConfigError(f"{path}.time", f"expected nanoseconds, got {raw_time!r}")
        try:
            t = raw_time / 1e9
        except OverflowError:
            t = math.inf
        if not math.isfinite(t):
            raise ConfigError(f"{path}.time", f"expected nanoseconds, got {raw_time!r}")
        last = max(last, t)
        if kind == "invoke":
            if process in pending:
                raise ConfigError(path, f"process {process!r} invoked again before completing")
            pending[process] = (i, entry, t)
            continue
        if process not in pending:
            raise ConfigError(path, f"process {process!r} completes an op it never invoked")
        start, invoked, began = pending.pop(process)
        op = _operation(invoked, entry, kind, (began, t), f"history[{start}]", path)
        if op is not None:
            done.append((start, op))
    for start, invoked, began in pending.values():
        where = f"history[{start}]"
        op = _operation(invoked, invoked, "info", (began, last), where, where)
        if op is not None:
            done.append((start, op))
    done.sort(key=lambda item: item[0])
    return History(op for _, op in done)


def _micro(entry: dict[Any, Any], path: str) -> tuple[str, Any, Any]:
    value = _field(entry, "value")
    if not (isinstance(value, list) and len(value) == 1):
        raise ConfigError(f"{path}.value", "expected one micro-op such as [[:r k v]] or [[:w k v]]")
    micro = value[0]
    if not (isinstance(micro, list) and len(micro) == 3 and _name(micro[0]) in ("r", "w")):
        raise ConfigError(f"{path}.value", f"expected [:r k v] or [:w k v], got {micro!r}")
    return _name(micro[0]), micro[1], micro[2]


def _operation(
    invoked: dict[Any, Any],
    completed: dict[Any, Any],
    kind: str,
    times: tuple[float, float],
    ipath: str,
    cpath: str,
) -> Operation | None:
    """One Operation from an invocation and its completion (None for a failed write)."""
    f, key, value = _micro(invoked, ipath)
    if kind != "info":
        cf, ckey, cvalue = _micro(completed, cpath)
        if (cf, ckey) != (f, key):
            raise ConfigError(f"{cpath}.value", f"completes [{f} {key!r}] as [{cf} {ckey!r}]")
        if f == "r":
            value = cvalue
    if f == "w" and kind == "fail":
        return None  # Jepsen's :fail: the write definitely did not happen
    if isinstance(key, Keyword) or (isinstance(key, int) and not isinstance(key, bool)):
        key = str(_name(key))
    if not isinstance(key, str):
        raise ConfigError(f"{ipath}.value", f"expected a string, integer or keyword key: {key!r}")
    error = _name(_field(completed, "error"))
    outcome: Literal["ok", "unavailable", "error"] = "ok"
    if kind != "ok":
        outcome = "unavailable" if error == "unavailable" else "error"
    session = _field(invoked, "session")
    process = session if isinstance(session, str) else str(_name(_field(invoked, "process")))
    region = _field(invoked, "region")
    version = _field(completed, "version") if kind != "info" or f == "w" else 0
    if version is None:
        version = 0
    start, t = times
    try:
        return Operation(
            process=process,
            region=region if isinstance(region, str) else "unknown",
            key=key,
            kind="read" if f == "r" else "write",
            value=_value(value, f"{ipath}.value"),
            version=version,
            invoke=start,
            complete=t,
            outcome=outcome,
        )
    except ConfigError as exc:
        raise ConfigError(f"{cpath}.{exc.path}", exc.reason) from None


def _bounded_nesting(load: Callable[[str], History]) -> Callable[[str], History]:
    """``load`` with a history nested deeper than Python can recurse (a hostile file of
    ``[[[[...``) refused as a ConfigError rather than a RecursionError."""

    @functools.wraps(load)
    def checked(text: str) -> History:
        try:
            return load(text)
        except RecursionError:
            raise ConfigError("history", "nested too deeply") from None

    return checked


@_bounded_nesting
def loads_edn(text: str) -> History:
    """A history from EDN: op maps one after another, or one vector of them."""
    forms = parse_edn(text)
    if len(forms) == 1 and isinstance(forms[0], list):
        forms = forms[0]
    return from_jepsen(forms)


@_bounded_nesting
def loads_json(text: str) -> History:
    """A history from JSON: a list of op maps (strings where EDN has keywords)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"line {exc.lineno}", f"not JSON: {exc.msg}") from None
    if not isinstance(data, list):
        raise ConfigError("history", "expected a JSON list of op objects")
    return from_jepsen(data)


@_bounded_nesting
def loads_jsonl(text: str) -> History:
    """A history from JSON lines as a cluster's recorder writes them: one object per
    operation with the fields of :class:`Operation`."""
    ops = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            fields = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"line {n}", f"not JSON: {exc.msg}") from None
        if not isinstance(fields, dict) or set(fields) != _FIELDS:
            raise ConfigError(f"line {n}", f"expected an object of {', '.join(sorted(_FIELDS))}")
        try:
            ops.append(Operation(**fields))
        except ConfigError as exc:
            raise ConfigError(f"line {n}.{exc.path}", exc.reason) from None
    return History(ops)


_FIELDS = set(Operation.__slots__)
_LOADERS = {".edn": loads_edn, ".json": loads_json, ".jsonl": loads_jsonl}


def load_history(path: str | Path) -> History:
    """Read a ``.edn`` or ``.json`` history file, or a recorder's ``.jsonl``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _LOADERS:
        raise ConfigError(str(path), "expected a .edn, .json or .jsonl history file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), f"cannot read: {exc}") from None
    try:
        return _LOADERS[suffix](text)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc.path}", exc.reason) from None


def save_history(history: Iterable[Operation], path: str | Path) -> None:
    """Write a history as ``.edn`` or ``.json`` (by the file's suffix)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".edn", ".json"):
        raise ConfigError(str(path), "expected a .edn or .json history file")
    text = dumps_edn(history) if suffix == ".edn" else dumps_json(history)
    path.write_text(text, encoding="utf-8")
