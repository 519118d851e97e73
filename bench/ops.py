"""The benchmarked operations: ``operations/*.graphql`` plus who sends them and how.

The minimum upstream calls of each are in ``operations/minimums.json`` (with their derivation).
A document's leading ``#`` lines are a header for people and are not sent: the partner's
document must stay byte-identical to its manifest entry, whose id is its SHA-256.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent / "operations"
REPO = HERE.parent.parent


@dataclass(frozen=True)
class Operation:
    """One benchmarked operation and its minimum upstream calls."""

    name: str
    file: str
    title: str
    auth: str | None = None  # "resident" | "partner" | None (anonymous)
    resident: str | None = None
    variables: dict[str, Any] | None = None
    partner: str | None = None  # manifest the document belongs to (sent by hash)
    minimum: dict[str, Any] = field(default_factory=dict)

    @property
    def document(self) -> str:
        lines = (HERE / self.file).read_text(encoding="utf-8").splitlines()
        while lines and lines[0].startswith("#"):
            lines.pop(0)
        return "\n".join(lines).strip()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.document.encode()).hexdigest()

    def in_manifest(self) -> bool:
        """Whether the document's hash is an operation of its partner's manifest."""
        if self.partner is None:
            return False
        manifest = json.loads((REPO / "partners" / f"{self.partner}.manifest.json").read_text())
        return any(op.get("id") == self.sha256 for op in manifest.get("operations", []))


OPERATIONS: tuple[Operation, ...] = (
    Operation("home", "home.graphql", "home screen (me × 5 departments)", "resident", "R000001"),
    Operation("courses", "courses.graphql", "course list (50)"),
    Operation("loans", "loans.graphql", "loans with books", "resident", "R000001"),
    Operation(
        "branches",
        "branches.graphql",
        "branch list with queues",
        variables={"near": {"latitude": 22.5455, "longitude": 114.1187}},
    ),
    Operation("classify", "classify.graphql", "classify 电池", variables={"item": "电池"}),
    Operation(
        "services",
        "services.graphql",
        "search 公积金 + item with bank branches",
        variables={
            "query": "公积金",
            "code": "GJJ-0003",
            "near": {"latitude": 22.5455, "longitude": 114.1187},
        },
    ),
    Operation(
        "partner",
        "partner_branch_queues.graphql",
        "ICBC persisted OwnBranchQueues",
        "partner",
        partner="icbc",
    ),
)


def load(names: list[str] | None = None) -> list[Operation]:
    """The operations (all, or those named), each with its minimums attached."""
    minimums = json.loads((HERE / "minimums.json").read_text(encoding="utf-8"))
    chosen = [op for op in OPERATIONS if names is None or op.name in names]
    unknown = set(names or ()) - {op.name for op in OPERATIONS}
    if unknown:
        raise SystemExit(f"unknown operations {sorted(unknown)}: {[op.name for op in OPERATIONS]}")
    return [dataclasses.replace(op, minimum=minimums[op.name]) for op in chosen]


def count_path(data: Any, path: str) -> int | None:
    """How many items the dotted ``path`` reaches in a response's ``data`` (lists summed)."""
    nodes = [data]
    for key in path.split("."):
        following = []
        for node in nodes:
            for item in node if isinstance(node, list) else [node]:
                if isinstance(item, dict) and item.get(key) is not None:
                    following.append(item[key])
        nodes = following
    if not nodes:
        return None
    return sum(len(n) if isinstance(n, list) else 1 for n in nodes)
