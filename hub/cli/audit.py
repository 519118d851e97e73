"""``ihub audit verify``: recompute the audit chain and name the first broken record."""

from __future__ import annotations

import argparse
import sys

from sqlalchemy import inspect

from hub.settings import Settings
from hub.store.audit import verify_chain
from hub.store.db import make_engine


def add_arguments(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = commands.add_parser("audit", help="the log of access to residents' personal data")
    audit.add_argument("action", choices=["verify"], help="recompute the hash chain")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """0 when every record links to the one before and matches its hash; 1 otherwise."""
    engine = make_engine(settings.database_url)
    try:
        # read only: verifying must not create what it is asked to check
        if not inspect(engine).has_table("audit_record"):
            print("no audit log in this database (audit_record is missing)", file=sys.stderr)
            return 1
        checked, broken = verify_chain(engine)
    finally:
        engine.dispose()
    if broken is not None:
        print(
            f"audit chain broken at record {broken.seq}: {broken.reason} "
            f"({checked} records before it are intact)",
            file=sys.stderr,
        )
        return 1
    print(f"audit chain intact: {checked} records")
    return 0
