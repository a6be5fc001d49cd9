"""Mangled files of every kind (regions.yaml, keys file, flags file) end in a one-line
ConfigError naming the file, or load: never another exception. Each test feeds 1,000 files
made from the shipped ones by structural edits (a nasty value at a random place, a deleted
field, an unhashable key) and byte-level damage (other encodings, flipped bytes, deep nesting).
"""

from __future__ import annotations

import copy
import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from edgekv import ConfigError, load_config
from edgekv.lowlevel import load_keys

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
REGIONS = (resources.files("edgekv") / "data" / "regions.yaml").read_text(encoding="utf-8")
FLAGS = (resources.files("edgekv") / "data" / "flags-example.json").read_text(encoding="utf-8")
KEYS = (EXAMPLES / "keys.yaml").read_text(encoding="utf-8")

NASTY: list[Any] = [
    math.nan,
    math.inf,
    -math.inf,
    1e308,
    10**400,
    -(10**400),
    -1,
    0,
    0.5,
    "",
    "x" * 5000,
    "1e12s",
    "1us",
    "0ms",
    "-5s",
    "nan",
    "1e999ms",
    "São Paulo",
    "East US",
    "2024-13-45",
    None,
    True,
    [],
    {},
    [[1, 2]],
    ["East US", ["UK South"]],
    {"a": {"b": {"c": 1}}},
    {"dist": "mixture", "components": [{"weight": 1, "dist": "mixture", "components": []}]},
]

# One file in this many is built from the valid text by byte-level damage.
ENCODINGS = ["latin-1", "utf-16", "utf-32", "cp1252", "utf-8-sig"]


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a node of ``doc`` (keys and list indexes)."""
    out = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            out += _paths(value, (*prefix, i))
    return out


def _parent(doc: Any, path: tuple[Any, ...]) -> Any:
    for step in path[:-1]:
        doc = doc[step]
    return doc


@st.composite
def mangled(draw: st.DrawFn, text: str, as_json: bool) -> bytes:
    """A file made from ``text`` by a few structural edits, then maybe byte-level damage."""
    how = draw(st.sampled_from(["edit", "edit", "edit", "encoding", "bytes", "deep", "shape"]))
    if how == "encoding":
        encoding = draw(st.sampled_from(ENCODINGS))
        return ("São Paulo ñ " + text).encode(encoding, errors="replace")
    if how == "bytes":
        data = bytearray(text.encode())
        for _ in range(draw(st.integers(1, 5))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] = draw(st.integers(0, 255))
        return bytes(data)
    if how == "deep":
        depth = draw(st.sampled_from([50, 500, 2000, 20000]))
        inner = "[" * depth + "]" * depth
        return (text.rstrip() + f"\nextra: {inner}\n" if not as_json else inner).encode()
    if how == "shape":
        return draw(st.sampled_from([b"", b"[]", b"42", b"null", b"- a\n- b\n", b"{a: [}"]))
    doc = json.loads(text) if as_json else yaml.safe_load(text)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)[1:]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _parent(doc, path)
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            key = draw(st.sampled_from(["extra", 7, None, True, "name"]))
            parent[key] = copy.deepcopy(draw(st.sampled_from(NASTY)))
        else:
            parent[path[-1]] = copy.deepcopy(draw(st.sampled_from(NASTY)))
    if as_json:
        return json.dumps(doc, default=str).encode()
    return yaml.safe_dump(doc, allow_unicode=True).encode()


def _expect_config_error_or_success(load: Any) -> None:
    try:
        load()
    except ConfigError as exc:
        message = str(exc)
        assert message and "\n" not in message.strip(), message
        assert "Traceback" not in message


@settings(max_examples=1000)
@given(data=mangled(REGIONS, as_json=False))
def test_mangled_regions_files_give_one_line_errors(tmp_path_factory: Any, data: bytes) -> None:
    path = tmp_path_factory.mktemp("regions") / "regions.yaml"
    path.write_bytes(data)
    _expect_config_error_or_success(lambda: load_config(path))


@settings(max_examples=1000)
@given(data=mangled(KEYS, as_json=False))
def test_mangled_keys_files_give_one_line_errors(tmp_path_factory: Any, data: bytes) -> None:
    folder = tmp_path_factory.mktemp("keys")
    (folder / "flags.json").write_text(FLAGS)
    text = data.replace(b"../edgekv/data/flags-example.json", b"flags.json")
    (folder / "keys.yaml").write_bytes(text)
    _expect_config_error_or_success(lambda: load_keys(folder / "keys.yaml"))


@settings(max_examples=1000)
@given(data=mangled(FLAGS, as_json=True))
def test_mangled_flags_files_give_one_line_errors(tmp_path_factory: Any, data: bytes) -> None:
    folder = tmp_path_factory.mktemp("flags")
    (folder / "flags.json").write_bytes(data)
    keys = {"projects": {"p": {"flags": "flags.json", "server_keys": ["dvc_server_p"]}}}
    _expect_config_error_or_success(lambda: load_keys(keys, base_dir=folder))


def test_encodings_accepted_and_refused(tmp_path: Path) -> None:
    path = tmp_path / "regions.yaml"
    path.write_bytes(REGIONS.encode("utf-8-sig"))
    assert load_config(path).names[-1] == "Brazil South"
    path.write_bytes(REGIONS.replace("Sao Paulo", "São Paulo").encode("latin-1"))
    try:
        load_config(path)
    except ConfigError as exc:
        assert str(path) in str(exc) and "not UTF-8" in str(exc)
    else:
        raise AssertionError("a Latin-1 file loaded")
