"""The APQ round trip with the real client front-end teams use: Apollo Client's link."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.support import LiveHub

NODE_DIR = Path(__file__).resolve().parent / "node"


def test_apollo_persisted_query_link_round_trip(start_hub: Callable[..., LiveHub]) -> None:
    node = shutil.which("node")
    assert node, "Node.js is needed for the client tests (scripts/test installs the packages)"
    assert (NODE_DIR / "node_modules" / "@apollo" / "client").exists(), (
        "run `npm ci --prefix tests/node` (scripts/test does)"
    )
    hub = start_hub()
    done = subprocess.run(
        [node, "apq.mjs", f"{hub.url}/graphql"],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    sent = result["sent"]
    # 1: hash only → not found; 2: hash + query → stored and answered; 3: a new client, hash only, GET
    assert [s["method"] for s in sent] == ["POST", "POST", "GET"]
    assert "query" not in sent[0]["body"]
    assert sent[0]["answer"]["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert (
        "query" in sent[1]["body"] and sent[1]["body"]["extensions"]["persistedQuery"]["sha256Hash"]
    )
    assert "query" not in sent[2]["params"] and "persistedQuery" in sent[2]["params"]["extensions"]
    assert sent[2]["status"] == 200
    assert result["first"] == result["second"]
    assert len(result["second"]["garbageSorting"]["categories"]) == 6
