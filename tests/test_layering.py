"""The layers of DESIGN.md, enforced: hub -> schema -> connectors; mocks stand alone."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
OURS = {"hub", "schema", "connectors", "mocks", "tests", "bench"}

# package -> top-level modules it must never import
FORBIDDEN = {
    "mocks": OURS - {"mocks"},
    "connectors": {
        "hub",
        "schema",
        "mocks",
        "strawberry",
        "starlette",
        "graphql",
        "sqlmodel",
        "sqlalchemy",
        "prometheus_client",  # connectors report to an Observer; the hub owns the metrics
    },
    "schema": {"hub", "mocks", "aiohttp", "sqlmodel", "sqlalchemy", "prometheus_client"},
    # the dev launcher (hub/cli/__init__.py) is the one hub module allowed to start the mocks
    "hub": {"mocks"},
}
ALLOWED = {("hub", "cli/__init__.py", "mocks")}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def violations(package: str) -> list[str]:
    bad = []
    for path in sorted((REPO / package).rglob("*.py")):
        for module in imports(path) & FORBIDDEN[package]:
            if (package, path.relative_to(REPO / package).as_posix(), module) not in ALLOWED:
                bad.append(f"{path.relative_to(REPO)} imports {module}")
    return bad


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_respects_its_layer(package: str) -> None:
    assert (REPO / package).is_dir()
    assert violations(package) == []


def test_the_guard_itself_catches_a_violation(tmp_path: Path) -> None:
    sample = tmp_path / "bad.py"
    sample.write_text("import strawberry\nfrom hub.app import create_app\nfrom . import sibling\n")
    assert imports(sample) == {"strawberry", "hub"}
