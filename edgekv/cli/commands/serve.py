"""``edgekv serve``: the DevCycle-compatible HTTP API, one loopback port per region, in real
time (replication lag really elapses between regions)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import resource
import signal
import sys
from typing import Any

from ..._core.systems import SYSTEMS
from ..._drivers.cluster import Cluster
from ..._drivers.files import default_config, load_config
from ..._edge.durable import DurableStore
from ..._edge.http import EdgeServer
from ..._edge.inputs import Limits
from ..._edge.keys import Keys, load_keys
from ..._edge.logs import LEVELS, configure, loop_exception_handler
from .. import UsageError, seed_arg

__all__ = ["register", "run"]

EXAMPLE = """example:
  edgekv serve --keys examples/keys.yaml --lag 300ms
  curl -X PATCH localhost:8600/v1/edgedb/ana -H 'Authorization: dvc_server_acme_shop_1' \\
       -H 'Content-Type: application/json' -d '{"user_id": "ana", "customData": {"stars": 150}}'
  curl -X POST 'localhost:8602/v1/variables?enableEdgeDB=true' \\
       -H 'Authorization: dvc_server_acme_shop_1' -d '{"user_id": "ana"}'
"""


def register(subparsers: Any) -> None:
    """Add the ``serve`` sub-command."""
    parser = subparsers.add_parser(
        "serve",
        help="serve the DevCycle-compatible HTTP API, one port per region, in real time",
        description=__doc__,
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", help="regions.yaml (default: the packaged 9 regions)")
    parser.add_argument(
        "--flags", help="DevCycle config v2 JSON for projects whose keys entry names none"
    )
    parser.add_argument("--keys", required=True, help="keys file: projects, SDK keys, flags")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    parser.add_argument(
        "--port-base", type=int, default=8600, help="region i listens on PORT_BASE+i (0: any)"
    )
    parser.add_argument(
        "--system",
        default="replicated",
        choices=sorted(SYSTEMS),
        help="the system under test to serve (default %(default)s); its options come from "
        "the config's systems: section",
    )
    parser.add_argument(
        "--single-home", action="store_true", help="the same as --system single-home"
    )
    parser.add_argument("--lag", help="replication lag distribution, e.g. 300ms or exp:100ms")
    parser.add_argument("--seed", type=seed_arg, default=0, help="seed of every random draw")
    parser.add_argument(
        "--log-level",
        choices=LEVELS,
        default="info",
        help="info logs one line per rejected request or refused/aborted connection",
    )
    parser.add_argument("--access-log", action="store_true", help="log one line per request")
    parser.add_argument(
        "--data-dir",
        help="keep each region's users in SQLite files here (acknowledged writes survive"
        " SIGKILL); default: in memory, nothing survives a restart",
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        default=Limits().max_connections,
        help="open connections per region before 503 (lowered to fit the open-files limit)",
    )
    parser.add_argument(
        "--max-users",
        type=int,
        default=Limits().max_users,
        help="users stored per project, over all regions, before 429",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load everything (errors exit 2 before any port opens), then serve until Ctrl-C."""
    if not 0 <= args.port_base <= 65535:
        raise UsageError("--port-base", f"must be in 0..65535, got {args.port_base}")
    cfg = load_config(args.config) if args.config else default_config()
    if args.lag is not None:
        cfg = cfg.replace(lag=args.lag)
    if args.port_base and args.port_base + len(cfg.regions) - 1 > 65535:
        raise UsageError("--port-base", f"{args.port_base} leaves no room for {len(cfg.regions)}")
    if args.max_connections < 1 or args.max_users < 1:
        bad = "--max-connections" if args.max_connections < 1 else "--max-users"
        raise UsageError(bad, "must be at least 1")
    keys = load_keys(args.keys, flags=args.flags)
    configure(args.log_level, access_log=args.access_log)
    limits = Limits(
        max_connections=_connection_cap(args.max_connections, len(cfg.regions)),
        max_users=args.max_users,
    )
    durable = DurableStore(args.data_dir, list(cfg.names)) if args.data_dir else None
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(cfg, keys, args, limits, durable))
    finally:
        if durable is not None:
            durable.close()
    print("edgekv serve: stopped", file=sys.stderr)
    return 0


def _cluster(cfg: Any, args: argparse.Namespace) -> Cluster:
    system = "single-home" if args.single_home else args.system
    return Cluster(cfg, seed=args.seed, system=system)


def _connection_cap(wanted: int, regions: int) -> int:
    """``wanted`` connections per region, lowered so that every region at its cap stays
    under the process's open-files limit (64 descriptors kept for everything else)."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY:
        return wanted
    fitting = max(1, (soft - 64 - regions) // regions)
    if fitting < wanted:
        logging.getLogger("edgekv.serve").warning(
            "open-files limit %d: at most %d connections per region (asked %d)",
            soft,
            fitting,
            wanted,
        )
    return min(wanted, fitting)


async def _serve(
    cfg: Any, keys: Keys, args: argparse.Namespace, limits: Limits, durable: DurableStore | None
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(loop_exception_handler)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    cluster = _cluster(cfg, args)
    async with cluster:
        server = EdgeServer(
            cluster,
            keys,
            host=args.host,
            port_base=args.port_base,
            limits=limits,
            access_log=args.access_log,
            durable=durable,
        )
        try:
            urls = await server.start()
        except OSError as exc:
            where = f"--host {args.host} / --port-base {args.port_base}"
            raise UsageError(where, f"cannot listen: {exc.strerror or exc}") from None
        try:
            kind = "single-home" if args.single_home else args.system
            projects = ", ".join(p.name for p in keys.projects)
            print(f"edgekv serve: {kind} cluster, projects: {projects}", flush=True)
            if durable is None:
                print("  storage: in memory (nothing survives a restart)", flush=True)
            else:
                print(
                    f"  storage: SQLite in {durable.directory} (acknowledged writes survive"
                    f" SIGKILL), {sum(server.users.counts().values())} users restored",
                    flush=True,
                )
            print(
                f"  limits: {limits.max_connections} connections per region, "
                f"{limits.max_users} users per project, {limits.max_body} B bodies, "
                f"{limits.max_document} B user documents",
                flush=True,
            )
            width = max(map(len, urls))
            for name, url in urls.items():
                print(f"  {name:<{width}}  {url}", flush=True)
            print("Ctrl-C to stop", flush=True)
            await stop.wait()
        finally:
            await server.stop()
