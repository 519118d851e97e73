"""``ihub``: run the hub with its mocks, print dev tokens, export the schema.

ihub serve            mocks on their dev ports + the hub on 127.0.0.1:8000
ihub serve --no-mocks the hub alone (departments configured by HUB_<DEPT>_URL)
ihub mocks            only the mocks
ihub token R000001    a dev resident token
ihub schema [--check] print the SDL (or compare it with schema.graphql)
ihub graphiql fetch   download and verify GraphiQL's assets into var/graphiql
ihub partner add ID --name N [--bank icbc|ccb] [--mode ids_only|allowlist|log_unknown]
ihub manifest register --partner ID FILE [--signature FILE.sig]
ihub manifest check | keygen | sign FILE
ihub audit verify     recompute the audit log's hash chain; name the first broken record
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from pathlib import Path
from typing import Any

from hub import cli_audit, cli_partners
from hub.auth import DevKeys, issue_token
from hub.logs import configure_json_logging
from hub.settings import Settings

SCHEMA_FILE = Path("schema.graphql")


def _mock_specs() -> Any:
    # the dev launcher is the one place outside tests that may import the mocks
    from mocks.registry import MOCKS

    return MOCKS


async def _start_mocks(settings: Settings) -> Any:
    from mocks.common.launcher import MockConfig, start_mocks

    running = await start_mocks(
        _mock_specs(), config=MockConfig(state_dir=settings.var_dir / "mocks")
    )
    for name, url in running.urls.items():
        print(f"  mock {name:<10} {url}")
    return running


async def _serve(settings: Settings, *, with_mocks: bool) -> None:
    import uvicorn

    from hub.app import create_app

    running = await _start_mocks(settings) if with_mocks else None
    try:
        # GraphiQL's assets, if missing, are fetched in the background (bounded): no registry
        # must hold up the hub; /graphql tells a browser to run `ihub graphiql fetch` meanwhile
        # log_config=None: uvicorn's loggers propagate to the root's JSON lines (hub.logs)
        config = uvicorn.Config(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            log_level="info",
            log_config=None,
        )
        print(f"i罗湖 Hub on http://{settings.host}:{settings.port}/graphql")
        await uvicorn.Server(config).serve()
    finally:
        if running is not None:
            await running.stop()


async def _mocks_forever(settings: Settings) -> None:
    running = await _start_mocks(settings)
    try:
        await asyncio.Event().wait()
    finally:
        await running.stop()


def _fetch_graphiql(settings: Settings) -> int:
    from hub.graphiql import GraphiQL
    from hub.graphiql_assets import GraphiQLAssetsError

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
    commands.add_parser("mocks", help="run only the department mocks")
    token = commands.add_parser("token", help="print a dev token for a seeded resident")
    token.add_argument("resident_id")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    schema = commands.add_parser("schema", help="print the schema SDL")
    schema.add_argument("--check", action="store_true", help="compare with schema.graphql")
    graphiql = commands.add_parser("graphiql", help="manage GraphiQL's offline assets")
    graphiql.add_argument("action", choices=["fetch"])
    cli_partners.add_arguments(commands)
    cli_audit.add_arguments(commands)
    args = parser.parse_args(argv)

    if args.command == "serve":
        configure_json_logging(logging.INFO)
    else:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
        )
    settings = Settings.from_env()
    if args.command == "serve":
        if args.host or args.port:
            settings = settings.with_changes(
                host=args.host or settings.host, port=args.port or settings.port
            )
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(settings, with_mocks=not args.no_mocks))
        return 0
    if args.command == "mocks":
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_mocks_forever(settings))
        return 0
    if args.command == "token":
        keys = DevKeys.load_or_create(settings.keys_dir)
        try:
            print(
                issue_token(
                    keys,
                    args.resident_id,
                    issuer=settings.jwt_issuer,
                    audience=settings.jwt_audience,
                    ttl_s=args.ttl,
                )
            )
        except ValueError as exc:
            parser.error(str(exc))
        return 0
    if args.command == "schema":
        return _schema(args.check)
    if args.command in ("partner", "manifest"):
        return cli_partners.run(args, settings)
    if args.command == "audit":
        return cli_audit.run(args, settings)
    return _fetch_graphiql(settings)


if __name__ == "__main__":
    raise SystemExit(main())
