"""``ihub offers scan ITEM`` and ``ihub offers status`` against the population mock."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import pytest

from hub.cli import offers as cli_offers
from hub.settings import Settings


def test_scan_then_status(
    make_settings: Callable[..., Settings],
    fresh_database_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = make_settings(database_url=fresh_database_url, offers_page_size=100)
    scan = argparse.Namespace(action="scan", item="elderly_allowance")
    # when: scanned
    assert cli_offers.run(scan, settings) == 0
    done = capsys.readouterr().out
    assert done.startswith("elderly_allowance: ") and " candidates in " in done
    # then: today's run is done; a second scan does nothing and says why
    assert cli_offers.run(scan, settings) == 1
    assert "done today" in capsys.readouterr().err
    assert cli_offers.run(argparse.Namespace(action="status"), settings) == 0
    lines = capsys.readouterr().out.splitlines()
    elderly = next(line for line in lines if line.startswith("elderly_allowance"))
    assert "finished" in elderly and "deliveries open" in elderly
    assert any(line.startswith("home_care") and "never scanned" in line for line in lines)
