"""``ihub``: run the hub with its mocks, print dev tokens, export the schema.

ihub serve            mocks on HUB_MOCKS_BASE_PORT+1… (8101…) + the hub on 127.0.0.1:8000
ihub serve --no-mocks the hub alone (departments configured by HUB_<DEPT>_URL)
ihub serve --workers N  N uvicorn worker processes on one port, a socket each (HUB_WORKERS)
ihub mocks            only the mocks
ihub token R000001    a dev resident token
ihub schema [--check] print the SDL (or compare it with schema.graphql)
ihub graphiql fetch   download and verify GraphiQL's assets into var/graphiql
ihub partner add ID --name N [--bank icbc|ccb] [--mode ids_only|allowlist|log_unknown]
ihub manifest register --partner ID FILE [--signature FILE.sig]
ihub manifest check | keygen | sign FILE
ihub audit verify     recompute the audit log's hash chain; name the first broken record
ihub decisions verify recompute the 秒批 decision chain; name the first broken record
ihub reviews list     the 秒批 review queue; `ihub reviews decide ID reject --by NAME --reason …`
ihub catalogue sync   one full sync of the hub's catalogue copy (progress bar on a terminal)
ihub offers scan ITEM one proactive item's scan for today (progress bar); `ihub offers status`
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import socket
import sys
from pathlib import Path
from typing import Any

from hub.cli import audit as cli_audit
from hub.cli import catalogue as cli_catalogue
from hub.cli import decisions as cli_decisions
from hub.cli import offers as cli_offers
from hub.cli import partners as cli_partners
from hub.cli import reviews as cli_reviews
from hub.cli import token as cli_token
from hub.cli.sockets import PortBusy, bind, bind_workers
from hub.logs import configure_json_logging
from hub.settings import Settings, SettingsError, workers_of

SCHEMA_FILE = Path("schema.graphql")


def _mock_specs() -> Any:
    # the dev launcher is the one place outside tests that may import the mocks
    from mocks.registry import MOCKS

    return MOCKS


async def _start_mocks(settings: Settings) -> Any:
    from mocks.common.launcher import MockConfig, PortInUse, start_mocks

    try:
        running = await start_mocks(
            _mock_specs(),
            config=MockConfig(
                state_dir=settings.var_dir / "mocks", population=settings.mocks_population
            ),
            base_port=settings.mocks_base_port,
        )
    except PortInUse as exc:
        raise PortBusy(
            f"{exc.strerror}: set HUB_MOCKS_BASE_PORT to another base "
            f"(now {settings.mocks_base_port}; "
            f"the mocks listen on base+1…base+{len(_mock_specs())})"
        ) from exc
    for name, url in running.urls.items():
        print(f"  mock {name:<10} {url}")
    return running


def _hub_port_busy(port: int) -> str:
    return f"port {port} (the hub) is already in use: set HUB_PORT (or --port) to another port"


def _bind(settings: Settings) -> socket.socket:
    """The hub's listening socket, bound before anything is started or announced."""
    return bind(settings.host, settings.port, busy=_hub_port_busy)


async def _serve(settings: Settings, *, with_mocks: bool) -> None:
    import uvicorn

    from hub.app import create_app
    from hub.web.protocol import HubHttpProtocol

    sock = _bind(settings)
    running = None
    try:
        running = await _start_mocks(settings) if with_mocks else None
        # GraphiQL's assets, if missing, are fetched in the background (bounded): no registry
        # must hold up the hub; /graphql tells a browser to run `ihub graphiql fetch` meanwhile
        # log_config=None: uvicorn's loggers propagate to the root's JSON lines (hub.logs)
        config = uvicorn.Config(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            log_level="info",
            log_config=None,
            http=HubHttpProtocol,
        )
        print(f"i罗湖 Hub on http://{settings.host}:{settings.port}/graphql", flush=True)
        await uvicorn.Server(config).serve(sockets=[sock])
    finally:
        sock.close()
        if running is not None:
            await running.stop()


def app_from_env() -> Any:
    """A worker's hub (``ihub serve --workers``): uvicorn's factory, settings from ``HUB_*``."""
    from hub.app import create_app

    configure_json_logging(logging.INFO)
    return create_app(Settings.from_env())


def _serve_workers(settings: Settings, *, with_mocks: bool, workers: int) -> int:
    """``workers`` uvicorn worker processes on the hub's port, each on a listening socket of
    its own (``hub.cli.workers``: the kernel spreads connections over them), each building
    its hub from the environment (``app_from_env``); the mocks, if any, run in this process,
    on a thread of their own. Ctrl-C (or SIGTERM) stops the workers, then the mocks."""
    import threading

    import uvicorn

    from hub.cli.workers import serve
    from hub.web.protocol import HubHttpProtocol

    try:
        sockets = bind_workers(settings.host, settings.port, workers, busy=_hub_port_busy)
    except PortBusy as exc:
        print(f"ihub: {exc}", file=sys.stderr)
        return 1
    # the workers read the settings from the environment: the command line's too
    os.environ.update(
        {"HUB_HOST": settings.host, "HUB_PORT": str(settings.port), "HUB_WORKERS": str(workers)}
    )
    stop_mocks = threading.Event()
    mocks_up = threading.Event()
    failure: list[BaseException] = []

    async def mocks_until_stopped() -> None:
        try:
            running = await _start_mocks(settings)
        except BaseException as exc:
            failure.append(exc)
            mocks_up.set()
            return
        mocks_up.set()
        try:
            await asyncio.to_thread(stop_mocks.wait)
        finally:
            await running.stop()

    thread = threading.Thread(target=asyncio.run, args=(mocks_until_stopped(),), daemon=True)
    try:
        if with_mocks:
            thread.start()
            mocks_up.wait()
            if failure:
                print(f"ihub: {failure[0]}", file=sys.stderr)
                return 1
        config = uvicorn.Config(
            "hub.cli:app_from_env",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=workers,
            log_level="info",
            log_config=None,
            http=HubHttpProtocol,
        )
        print(
            f"i罗湖 Hub on http://{settings.host}:{settings.port}/graphql ({workers} workers)",
            flush=True,
        )
        serve(config, sockets)
    finally:
        for sock in sockets:
            sock.close()
        stop_mocks.set()
        if thread.is_alive():
            thread.join(timeout=30)
    return 0


async def _mocks_forever(settings: Settings) -> None:
    running = await _start_mocks(settings)
    try:
        await asyncio.Event().wait()
    finally:
        await running.stop()


def _run_until_interrupted(coroutine: Any) -> int:
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(coroutine)
    except PortBusy as exc:
        print(f"ihub: {exc}", file=sys.stderr)
        return 1
    return 0


def _fetch_graphiql(settings: Settings) -> int:
    from hub.web.graphiql import GraphiQL
    from hub.web.graphiql_assets import GraphiQLAssetsError

    graphiql = GraphiQL(settings.graphiql_dir)
    if graphiql.ready:
        print(f"GraphiQL assets already present and verified in {settings.graphiql_dir}")
        return 0
    print(f"fetching GraphiQL assets with npm (once, at most {graphiql.timeout:.0f} s) …")
    try:
        graphiql.fetch()
    except GraphiQLAssetsError as exc:
        print(f"GraphiQL assets could not be fetched: {exc}", file=sys.stderr)
        return 1
    print(f"GraphiQL assets verified in {settings.graphiql_dir}")
    return 0


def _schema(check: bool) -> int:
    from schema import build_schema

    sdl = build_schema().as_str() + "\n"
    if not check:
        sys.stdout.write(sdl)
        return 0
    if SCHEMA_FILE.exists() and SCHEMA_FILE.read_text(encoding="utf-8") == sdl:
        print("schema.graphql is up to date")
        return 0
    print(
        "schema.graphql differs from the code: run `ihub schema > schema.graphql`", file=sys.stderr
    )
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ihub", description="i罗湖 Hub")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the hub (and, by default, the mocks)")
    serve.add_argument("--no-mocks", action="store_true", help="do not start the mocks")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument(
        "--workers",
        type=int,
        help="uvicorn worker processes (default HUB_WORKERS, else 1), each on a socket of its "
        "own on the one port (SO_REUSEPORT); several share the department quotas of this host",
    )
    commands.add_parser("mocks", help="run only the department mocks")
    cli_token.add_arguments(commands)
    schema = commands.add_parser("schema", help="print the schema SDL")
    schema.add_argument("--check", action="store_true", help="compare with schema.graphql")
    graphiql = commands.add_parser("graphiql", help="manage GraphiQL's offline assets")
    graphiql.add_argument("action", choices=["fetch"])
    cli_partners.add_arguments(commands)
    cli_audit.add_arguments(commands)
    cli_decisions.add_arguments(commands)
    cli_reviews.add_arguments(commands)
    cli_catalogue.add_arguments(commands)
    cli_offers.add_arguments(commands)
    args = parser.parse_args(argv)

    if args.command == "serve":
        configure_json_logging(logging.INFO)
    else:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
        )
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"ihub: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        if args.host or args.port:
            settings = settings.with_changes(
                host=args.host or settings.host, port=args.port or settings.port
            )
        workers = args.workers or workers_of(os.environ)
        if workers < 1:
            print("ihub: --workers must be at least 1", file=sys.stderr)
            return 2
        if workers > 1:
            return _serve_workers(settings, with_mocks=not args.no_mocks, workers=workers)
        return _run_until_interrupted(_serve(settings, with_mocks=not args.no_mocks))
    if args.command == "mocks":
        return _run_until_interrupted(_mocks_forever(settings))
    if args.command == "token":
        return cli_token.run(args, settings)
    if args.command == "schema":
        return _schema(args.check)
    if args.command in ("partner", "manifest"):
        return cli_partners.run(args, settings)
    if args.command == "audit":
        return cli_audit.run(args, settings)
    if args.command == "decisions":
        return cli_decisions.run(args, settings)
    if args.command == "reviews":
        return cli_reviews.run(args, settings)
    if args.command == "catalogue":
        return cli_catalogue.run(args, settings)
    if args.command == "offers":
        return cli_offers.run(args, settings)
    return _fetch_graphiql(settings)


if __name__ == "__main__":
    raise SystemExit(main())
