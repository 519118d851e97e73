"""``ihub reviews list`` and ``ihub reviews decide <decision-id> reject --by <operator>``: the
operators' side of the 秒批 review queue. A rejection is a new decision in the chain (reason
``OPERATOR_REJECTED`` with the operator's words) and closes the case, with who decided.
Approvals are not typed in by hand: the automatic re-check decides a case from fresh evidence
once its department answers (``HUB_APPROVALS_RECHECK_S``). The same over HTTP, for operators
with a key: ``hub.web.reviews`` (``/operators/reviews``)."""

from __future__ import annotations

import argparse
import uuid
from dataclasses import replace

from sqlmodel import Session

from hub.settings import Settings
from hub.store.db import create_tables, make_engine
from hub.store.decisions import decide_case, decision_of, open_cases
from hub.store.models import DecisionRecord
from schema.context import Reason


def add_arguments(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    reviews = commands.add_parser("reviews", help="the 秒批 review queue (NEEDS_REVIEW cases)")
    actions = reviews.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="open cases, oldest first")
    decide = actions.add_parser("decide", help="close a case")
    decide.add_argument("decision_id")
    decide.add_argument("outcome", choices=["reject"])
    decide.add_argument("--by", required=True, help="the operator deciding")
    decide.add_argument("--reason", required=True, help="the reason, fit to show the resident")


def run(args: argparse.Namespace, settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    create_tables(engine)
    try:
        with Session(engine) as session:
            if args.action == "list":
                for case in open_cases(session, 1000):
                    print(f"{case.decision_id}\t{case.item}\t{case.resident_id}\t{case.opened_at}")
                return 0
            row = session.get(DecisionRecord, _seq(session, args.decision_id))
            if row is None:
                print(f"no decision {args.decision_id}")
                return 1
            original = decision_of(row)
        rejected = replace(
            original,
            decision_id=uuid.uuid4().hex,
            outcome="REJECTED",
            reasons=(Reason("OPERATOR_REJECTED", f"经人工审核不予通过：{args.reason}"),),
            amount_fen=None,
        )
        with Session(engine) as session:
            # the case closed and the rejection appended in one transaction, if still open
            if not decide_case(session, args.decision_id, args.by, rejected):
                print(f"case {args.decision_id} is not open")
                return 1
        print(f"case {args.decision_id} rejected by {args.by}: decision {rejected.decision_id}")
        return 0
    finally:
        engine.dispose()


def _seq(session: Session, decision_id: str) -> int:
    from sqlmodel import select

    row = session.exec(
        select(DecisionRecord.seq).where(DecisionRecord.decision_id == decision_id)
    ).first()
    return int(row) if row is not None else -1
