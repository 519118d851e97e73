"""Settings: one frozen object, read once from ``HUB_*`` environment variables.

Every value has a dev default, so a fresh checkout runs with no configuration. Per-department
policy is data keyed by department name (``HUB_<DEPT>_URL``, ``HUB_<DEPT>_TIMEOUT_S``,
``HUB_<DEPT>_CACHE_TTL_S``, ``HUB_<DEPT>_MAX_CONCURRENCY``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from connectors.base import DepartmentPolicy

# Dev defaults: the mocks' ports and credentials (departments.md). Real deployments set
# HUB_<DEPT>_URL and HUB_<DEPT>_<CREDENTIAL> (e.g. HUB_LIBRARY_SECRET, HUB_YOUTH_API_KEY).
# "{var}" stands for the var directory, where the bank mocks write the keys they issue.
DEV_DEPARTMENTS: Mapping[str, tuple[str, Mapping[str, str]]] = {
    "youth": ("http://127.0.0.1:8101", {"api_key": "dev-youth-key"}),
    "library": ("http://127.0.0.1:8102", {"appid": "ihub-dev", "secret": "dev-library-secret"}),
    "icbc": (
        "http://127.0.0.1:8103",
        {
            "app_id": "ihub-icbc-dev",
            "app_private_key": "{var}/mocks/bank/icbc/app-private.pem",
            "bank_public_key": "{var}/mocks/bank/icbc/bank-public.pem",
        },
    ),
    "ccb": (
        "http://127.0.0.1:8104",
        {
            "app_id": "ihub-ccb-dev",
            "app_private_key": "{var}/mocks/bank/ccb/app-private.pem",
            "bank_public_key": "{var}/mocks/bank/ccb/bank-public.pem",
        },
    ),
    "locks": (
        "http://127.0.0.1:8105",
        {
            "client_id": "ihub-dev-client",
            "client_secret": "dev-lock-secret",
            "username": "luohu-property-platform",
            "password": "dev-lock-password",
        },
    ),
    "garbage": ("http://127.0.0.1:8106", {}),
}


class SettingsError(ValueError):
    """An environment variable holds a value the hub cannot use."""


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be true or false, not {raw!r}")


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a number, not {raw!r}") from exc
    if value < 0:
        raise SettingsError(f"{name} must not be negative")
    return value


@dataclass(frozen=True)
class Settings:
    """Everything the hub can be configured with."""

    env: str = "dev"
    host: str = "127.0.0.1"
    port: int = 8000
    var_dir: Path = Path("var")
    graphiql_dir: Path = Path("var/graphiql")
    database_url: str = "sqlite:///var/hub.db"
    seed_database: bool = True
    graphiql: bool = True
    jwt_issuer: str = "iluohu-identity-dev"
    jwt_audience: str = "ihub"
    jwt_algorithms: tuple[str, ...] = ("RS256",)
    jwt_leeway_s: float = 30.0
    max_body_bytes: int = 1_000_000
    applicant_ref_key: str | None = None
    door_attempts_per_minute: int = 5
    apq: bool = True
    require_signed_manifests: bool = False
    manifest_public_key: Path | None = None
    departments: Mapping[str, DepartmentPolicy] = field(default_factory=dict)

    @property
    def keys_dir(self) -> Path:
        return self.var_dir / "keys"

    def with_changes(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        var_dir = Path(env.get("HUB_VAR_DIR", "var"))
        hub_env = env.get("HUB_ENV", "dev")
        return cls(
            env=hub_env,
            host=env.get("HUB_HOST", "127.0.0.1"),
            port=int(_number(env, "HUB_PORT", 8000)),
            var_dir=var_dir,
            database_url=env.get("HUB_DATABASE_URL", f"sqlite:///{var_dir / 'hub.db'}"),
            seed_database=_flag(env, "HUB_SEED_DATABASE", hub_env == "dev"),
            graphiql=_flag(env, "HUB_GRAPHIQL", hub_env == "dev"),
            graphiql_dir=Path(env.get("HUB_GRAPHIQL_DIR", str(var_dir / "graphiql"))),
            jwt_issuer=env.get("HUB_JWT_ISSUER", "iluohu-identity-dev"),
            jwt_audience=env.get("HUB_JWT_AUDIENCE", "ihub"),
            max_body_bytes=int(_number(env, "HUB_MAX_BODY_BYTES", 1_000_000)),
            applicant_ref_key=env.get("HUB_APPLICANT_REF_KEY") or None,
            door_attempts_per_minute=int(_number(env, "HUB_DOOR_ATTEMPTS_PER_MINUTE", 5)),
            apq=_flag(env, "HUB_APQ", True),
            require_signed_manifests=_flag(env, "HUB_REQUIRE_SIGNED_MANIFESTS", False),
            manifest_public_key=Path(env["HUB_MANIFEST_PUBLIC_KEY"])
            if env.get("HUB_MANIFEST_PUBLIC_KEY")
            else None,
            departments={name: department_policy(env, name, var_dir) for name in DEV_DEPARTMENTS},
        )


# Policy defaults that differ by department: CCB refuses an app's 11th call in flight.
DEFAULT_MAX_CONCURRENCY: Mapping[str, int] = {"ccb": 8}


def department_policy(
    env: Mapping[str, str], name: str, var_dir: Path = Path("var")
) -> DepartmentPolicy:
    prefix = f"HUB_{name.upper()}_"
    dev_url, dev_credentials = DEV_DEPARTMENTS[name]
    defaults = DepartmentPolicy(base_url=dev_url)
    return DepartmentPolicy(
        base_url=env.get(prefix + "URL", dev_url),
        credentials={
            key: env.get(prefix + key.upper(), value.replace("{var}", str(var_dir)))
            for key, value in dev_credentials.items()
        },
        timeout_s=_number(env, prefix + "TIMEOUT_S", defaults.timeout_s),
        connect_timeout_s=_number(env, prefix + "CONNECT_TIMEOUT_S", defaults.connect_timeout_s),
        cache_ttl_s=_number(env, prefix + "CACHE_TTL_S", defaults.cache_ttl_s),
        cache_size=int(_number(env, prefix + "CACHE_SIZE", defaults.cache_size)),
        max_concurrency=int(
            _number(
                env,
                prefix + "MAX_CONCURRENCY",
                DEFAULT_MAX_CONCURRENCY.get(name, defaults.max_concurrency),
            )
        ),
    )
