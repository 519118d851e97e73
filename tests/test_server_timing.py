"""``Server-Timing``: how long a request waited for departments, and how long the hub held it.

Waits are injected with the mocks' latency fault, so the header must show at least that long
upstream; a request answered from the hub's caches shows none.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connectors.tracing import Waits
from tests.support import BackgroundMocks, LiveHub, MockAdmin

CLASSIFY = '{ garbageSorting { classify(item: "电池") { match { name } } } }'
LOANS = "{ me { library { loans { dueDate book { title } } } } }"


def timing(response: Any) -> dict[str, float]:
    header = response.headers["Server-Timing"]
    found = dict(re.findall(r"(\w+);dur=([0-9.]+)", header))
    assert set(found) == {"upstream", "db", "app"}, header
    return {name: float(value) for name, value in found.items()}


@pytest.fixture
def library(mocks: BackgroundMocks) -> Iterator[MockAdmin]:
    admin = MockAdmin(mocks.urls["library"])
    admin.clear_faults()
    yield admin
    admin.clear_faults()


def test_overlapping_waits_count_once() -> None:
    waits = Waits()
    waits.intervals += [(0.0, 1.0), (0.5, 2.0), (3.0, 4.0), (3.2, 3.4)]
    assert waits.union_s() == pytest.approx(3.0)
    assert Waits().union_s() == 0


def test_waits_for_a_department_are_reported(
    start_hub: Callable[..., LiveHub], library: MockAdmin, token_for: Callable[..., str]
) -> None:
    hub = start_hub()
    token = token_for("R000001")
    assert "errors" not in hub.graphql(LOANS, token=token).json()  # tokens and books cached
    library.faults(latency_ms=150)
    response = hub.graphql(LOANS, token=token)
    assert "errors" not in response.json()
    spent = timing(response)
    # the loan list is live: one call, held 150 ms by the library; the audit record is the
    # database's part
    assert spent["upstream"] >= 150 and spent["app"] >= spent["upstream"] + spent["db"]
    assert spent["db"] > 0


def test_an_answer_from_the_hubs_caches_waited_for_nobody(hub: LiveHub) -> None:
    hub.graphql(CLASSIFY)
    response = hub.graphql(CLASSIFY)
    spent = timing(response)
    assert spent["upstream"] == spent["db"] == 0 and spent["app"] > 0
    # every answer carries it
    assert "Server-Timing" in hub.client.get("/healthz").headers
