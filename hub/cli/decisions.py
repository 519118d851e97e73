"""``ihub decisions verify``: recompute the 秒批 decision chain, name the first broken record."""

from __future__ import annotations

import argparse
import sys

from sqlalchemy import inspect

from hub.settings import Settings
from hub.store.db import make_engine
from hub.store.decisions import verify_decisions


def add_arguments(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    decisions = commands.add_parser("decisions", help="the record of 秒批 decisions")
    decisions.add_argument("action", choices=["verify"], help="recompute the hash chain")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """0 when every decision links to the one before and matches its hash; 1 otherwise."""
    engine = make_engine(settings.database_url)
    try:
        if not inspect(engine).has_table("decision_record"):
            print("no decision record in this database", file=sys.stderr)
            return 1
        checked, broken = verify_decisions(engine)
    finally:
        engine.dispose()
    if broken is not None:
        print(
            f"decision chain broken at record {broken.seq}: {broken.reason} "
            f"({checked} records before it are intact)",
            file=sys.stderr,
        )
        return 1
    print(f"decision chain intact: {checked} records")
    return 0
