"""Reading files for the layers above the sans-IO core: UTF-8 text and YAML with one-line
errors naming the file, and ``regions.yaml`` (a path or the packaged default) into a
validated :class:`~edgekv.Config`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib import resources
from typing import Any

import yaml

from .._core.config import Config, build_config
from .._core.errors import ConfigError

__all__ = ["MAX_FILE_BYTES", "default_config", "load_config", "read_text", "read_yaml"]

MAX_FILE_BYTES = 16 * 1024 * 1024
"""Largest config, keys, flags or workload file read."""


class _UniqueKeys(yaml.SafeLoader):
    """``yaml.safe_load`` that refuses a key given twice in one mapping (YAML 1.2 says keys
    are unique; PyYAML would keep the last silently, hiding a typo'd override)."""


def _unique_mapping(loader: _UniqueKeys, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
            seen.add(key)
        except TypeError:  # an unhashable key: construct_mapping reports it
            continue
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
    return loader.construct_mapping(node, deep=True)


_UniqueKeys.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def read_text(path: str, what: str) -> str:
    """The text of a file: UTF-8, with or without a byte-order mark, at most
    :data:`MAX_FILE_BYTES`; anything else is a one-line :class:`ConfigError` naming it."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(path, f"cannot read {what}: {exc.strerror}") from None
    except ValueError as exc:  # e.g. an embedded NUL in the path
        raise ConfigError(path, f"cannot read {what}: {exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(path, f"{what} is larger than {MAX_FILE_BYTES} bytes")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            path,
            f"{what} is not UTF-8 text (byte {exc.start}: {data[exc.start : exc.start + 1]!r});"
            " save it as UTF-8",
        ) from None


def read_yaml(path: str, what: str) -> Any:
    """The parsed YAML file at ``path`` (UTF-8, see :func:`read_text`); :class:`ConfigError`
    ("cannot read <what>", "invalid YAML at line L, column C", "nested too deeply")."""
    text = read_text(path, what)
    try:
        return yaml.load(text, Loader=_UniqueKeys)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise ConfigError(path, f"invalid YAML{where}: {problem}") from None
    except RecursionError:
        raise ConfigError(path, f"{what} is nested too deeply") from None
    except (ValueError, OverflowError) as exc:  # e.g. a timestamp like 2024-13-45
        raise ConfigError(path, f"invalid YAML value: {exc}") from None


def load_config(source: str | os.PathLike[str] | Mapping[str, Any] | Config) -> Config:
    """Load and validate a config from a YAML path or an already-parsed mapping.

    Raises :class:`ConfigError` naming the field and the allowed values for any mistake,
    including a missing file or a YAML syntax error.
    """
    if isinstance(source, Config):
        return source
    if isinstance(source, Mapping):
        return build_config(source, "<mapping>")
    if not isinstance(source, str | os.PathLike):
        kind = type(source).__name__
        raise TypeError(f"config must be a regions.yaml path, a mapping or a Config, got {kind}")
    path = os.fspath(source)
    raw = read_yaml(path, "config file")
    if raw is None:
        raise ConfigError(path, "the file is empty; expected a mapping with regions")
    try:
        return build_config(raw, path)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc.path}" if exc.path else path, exc.reason) from None


def default_config() -> Config:
    """The packaged default topology (the nine regions of ``regions.yaml``)."""
    with resources.as_file(resources.files("edgekv") / "data" / "regions.yaml") as path:
        return load_config(path)
