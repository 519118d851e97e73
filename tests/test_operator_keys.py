"""``HUB_OPERATOR_KEYS``: who may work the 秒批 review queue (``hub.web.reviews``)."""

from __future__ import annotations

import pytest

from hub.settings import DEV_OPERATOR_KEY, Settings, SettingsError
from hub.web.reviews import key_digest


def test_a_dev_hub_has_the_dev_operator_and_no_other_hub_has_any() -> None:
    dev = Settings.from_env({"HUB_ENV": "dev"})
    assert dev.operator_keys == {"dev-operator": key_digest(DEV_OPERATOR_KEY)}
    assert Settings.from_env({"HUB_ENV": "prod", "HUB_PUBLIC_URL": "https://x"}).operator_keys == {}


def test_keys_are_names_and_digests() -> None:
    digest = key_digest("s3cret")
    env = {"HUB_ENV": "dev", "HUB_OPERATOR_KEYS": f"wang:{digest.upper()}, li:{'0' * 64}"}
    assert Settings.from_env(env).operator_keys == {"wang": digest, "li": "0" * 64}


@pytest.mark.parametrize("raw", ["wang", "wang:abc", ":" + "0" * 64, "wang:" + "g" * 64])
def test_a_malformed_key_list_is_refused(raw: str) -> None:
    with pytest.raises(SettingsError):
        Settings.from_env({"HUB_ENV": "dev", "HUB_OPERATOR_KEYS": raw})
