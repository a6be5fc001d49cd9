"""The keys file of ``edgekv serve``: projects, their SDK keys and their flag configs.

A request is authorised by one SDK key; the key names exactly one project, and that project's
name namespaces every user it stores, so one project's key never reaches another's users.
"""

from __future__ import annotations

import email.utils
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._core.errors import ConfigError
from .._drivers.files import read_text, read_yaml
from ..flags import Evaluator, FlagConfigError, parse_config

__all__ = ["SERVER", "CLIENT", "Keys", "ProjectKeys", "load_keys"]

SERVER = "server"
CLIENT = "client"
_PREFIXES = {SERVER: ("dvc_server_", "server"), CLIENT: ("dvc_client_", "client")}
_PROJECT_FIELDS = ("server_keys", "client_keys", "client_writes", "flags")


@dataclass(frozen=True, slots=True)
class ProjectKeys:
    """One tenant: its SDK keys, its compiled flag config and the config's served bytes.

    ``client_writes`` lets client keys (which ship inside apps, so anyone can read them) write
    user data too: off by default, since such a key can then rewrite any user's EdgeDB data.
    """

    name: str
    server_keys: tuple[str, ...]
    client_keys: tuple[str, ...]
    client_writes: bool
    flags_path: Path
    evaluator: Evaluator
    config_body: bytes
    etag: str
    last_modified: str

    @property
    def edgedb_enabled(self) -> bool:
        """Whether the flag config's ``project.settings.edgeDB.enabled`` is on."""
        return self.evaluator.config.project.edgedb_enabled


@dataclass(frozen=True, slots=True)
class Keys:
    """Every project of a keys file, and an O(1) index from SDK key to (project, kind)."""

    projects: tuple[ProjectKeys, ...]
    by_key: Mapping[str, tuple[ProjectKeys, str]]

    def lookup(self, sdk_key: str) -> tuple[ProjectKeys, str] | None:
        """The project and kind (``"server"``/``"client"``) of a key, or None if unknown."""
        return self.by_key.get(sdk_key)

    def writer(self, sdk_key: str) -> ProjectKeys | None:
        """The project a key may write user data of: any server key's, a client key's only
        where the project sets ``client_writes: true``; None otherwise (unknown key too)."""
        hit = self.by_key.get(sdk_key)
        if hit is None:
            return None
        project, kind = hit
        return project if kind == SERVER or project.client_writes else None


def load_keys(
    source: str | os.PathLike[str] | Mapping[str, Any],
    *,
    flags: str | os.PathLike[str] | None = None,
    base_dir: str | os.PathLike[str] | None = None,
) -> Keys:
    """Load and validate a keys file (a YAML path or a parsed mapping).

    A project's ``flags`` path is relative to the keys file (or ``base_dir`` for a mapping);
    projects without one use ``flags``. Raises :class:`ConfigError` naming the bad field:
    unknown fields, a missing flag config, a key used twice, a key without the prefix
    DevCycle's SDKs require (``dvc_server_``/``server``, ``dvc_client_``/``client``).
    """
    if isinstance(source, Mapping):
        raw: Any = source
        where = "<mapping>"
        base = Path(base_dir) if base_dir is not None else Path.cwd()
    else:
        where = os.fspath(source)
        base = Path(where).resolve().parent
        raw = read_yaml(where, "keys file")
    if not isinstance(raw, Mapping) or set(raw) != {"projects"}:
        raise ConfigError(where, "expected a mapping with exactly one field, 'projects'")
    projects_raw = raw["projects"]
    if not isinstance(projects_raw, Mapping) or not projects_raw:
        raise ConfigError(f"{where}: projects", "expected a non-empty mapping of project names")
    default_flags = Path(flags) if flags is not None else None
    cache: dict[Path, tuple[Evaluator, bytes, str, str]] = {}
    projects: list[ProjectKeys] = []
    by_key: dict[str, tuple[ProjectKeys, str]] = {}
    for name, spec in projects_raw.items():
        path = f"{where}: projects.{name}"
        project = _project(name, spec, path, base, default_flags, cache)
        for kind, keys in ((SERVER, project.server_keys), (CLIENT, project.client_keys)):
            for key in keys:
                if key in by_key:
                    raise ConfigError(path, f"SDK key {key!r} is used twice")
                by_key[key] = (project, kind)
        projects.append(project)
    return Keys(tuple(projects), by_key)


def _project(
    name: Any,
    spec: Any,
    path: str,
    base: Path,
    default_flags: Path | None,
    cache: dict[Path, tuple[Evaluator, bytes, str, str]],
) -> ProjectKeys:
    if not isinstance(name, str) or not name or ":" in name:
        raise ConfigError(path, "a project name is a non-empty string without ':'")
    if not isinstance(spec, Mapping):
        raise ConfigError(path, "expected a mapping with server_keys, client_keys, flags")
    unknown = set(spec) - set(_PROJECT_FIELDS)
    if unknown:
        raise ConfigError(
            path,
            f"unknown fields {sorted(map(str, unknown))}; allowed: {', '.join(_PROJECT_FIELDS)}",
        )
    client_writes = spec.get("client_writes", False)
    if not isinstance(client_writes, bool):
        raise ConfigError(f"{path}.client_writes", f"expected true or false, got {client_writes!r}")
    server = _key_list(spec.get("server_keys", []), SERVER, f"{path}.server_keys")
    client = _key_list(spec.get("client_keys", []), CLIENT, f"{path}.client_keys")
    if not server and not client:
        raise ConfigError(path, "a project needs at least one server or client key")
    flags_raw = spec.get("flags")
    if flags_raw is None:
        if default_flags is None:
            raise ConfigError(f"{path}.flags", "missing, and no --flags default was given")
        flags_path = default_flags.resolve()
    elif isinstance(flags_raw, str) and flags_raw:
        flags_path = (base / flags_raw).resolve()
    else:
        raise ConfigError(f"{path}.flags", f"expected a file path, got {flags_raw!r}")
    if flags_path not in cache:
        cache[flags_path] = _load_flags(flags_path, f"{path}.flags")
    evaluator, body, etag, modified = cache[flags_path]
    return ProjectKeys(
        name, server, client, client_writes, flags_path, evaluator, body, etag, modified
    )


def _key_list(raw: Any, kind: str, path: str) -> tuple[str, ...]:
    if not isinstance(raw, list):
        raise ConfigError(path, f"expected a list of {kind} SDK keys, got {raw!r}")
    prefixes = _PREFIXES[kind]
    for key in raw:
        if not isinstance(key, str) or not key.startswith(prefixes):
            raise ConfigError(
                path, f"{key!r} is not a {kind} SDK key (it must start with {prefixes[0]!r})"
            )
    return tuple(raw)


def _load_flags(path: Path, where: str) -> tuple[Evaluator, bytes, str, str]:
    """The compiled config, its exact bytes (served as is), a strong ETag, Last-Modified."""
    text = read_text(str(path), "flag config")
    try:
        mtime = path.stat().st_mtime
    except OSError as exc:
        raise ConfigError(where, f"cannot read flag config {str(path)!r}: {exc.strerror}") from None
    body = text.encode()
    try:
        evaluator = Evaluator(parse_config(text))
    except FlagConfigError as exc:
        raise ConfigError(where, f"{path}: {exc}") from None
    except RecursionError:
        raise ConfigError(where, f"{path}: filters nested too deeply") from None
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return evaluator, body, etag, email.utils.formatdate(mtime, usegmt=True)
