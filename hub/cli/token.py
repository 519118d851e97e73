"""``ihub token R000001 [--ttl S]``: a dev token for a resident the hub's database knows."""

from __future__ import annotations

import argparse
import sys

from sqlalchemy import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from hub.security.auth import DevKeys, issue_token
from hub.settings import Settings
from hub.store.db import create_tables, make_engine
from hub.store.models import Resident
from hub.store.seed import RESIDENTS, seed_database


def add_arguments(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    token = commands.add_parser("token", help="print a dev token for a seeded resident")
    token.add_argument("resident_id")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (> 0)")


def _refuse(message: str, code: int = 1) -> int:
    print(f"ihub token: {message}", file=sys.stderr)
    return code


def _resident_exists(settings: Settings, resident_id: str) -> bool:
    """Whether the hub's database holds ``resident_id``; prepared as ``ihub serve`` would
    (tables, and the dev data when seeding is on), so a fresh checkout knows its residents."""
    engine = make_engine(settings.database_url)
    try:
        create_tables(engine)
        if settings.seed_database:
            seed_database(engine)
        with Session(engine) as session:
            return session.get(Resident, resident_id) is not None
    finally:
        engine.dispose()


def run(args: argparse.Namespace, settings: Settings) -> int:
    """0 and the token on stdout; 2 for a malformed request, 1 for an unknown resident."""
    if args.ttl <= 0:
        return _refuse(f"--ttl must be a positive number of seconds, not {args.ttl}", 2)
    keys = DevKeys.load_or_create(settings.keys_dir)
    try:
        token = issue_token(
            keys,
            args.resident_id,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            ttl_s=args.ttl,
        )
    except ValueError as exc:
        return _refuse(str(exc), 2)
    where = make_url(settings.database_url).render_as_string(hide_password=True)
    try:
        known = _resident_exists(settings, args.resident_id)
    except SQLAlchemyError as exc:
        return _refuse(f"the hub's database {where} cannot be read ({type(exc).__name__})")
    if not known:
        return _refuse(
            f"no resident {args.resident_id} in the hub's database {where} "
            f"(the dev seed has R000001…R{RESIDENTS:06d})"
        )
    print(token)
    return 0
