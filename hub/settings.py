"""Settings: one frozen object, read once from ``HUB_*`` environment variables.

Every value has a dev default, so a fresh checkout runs with no configuration. Per-department
policy is data keyed by department name (``HUB_<DEPT>_URL``, ``HUB_<DEPT>_TIMEOUT_S``,
``HUB_<DEPT>_CACHE_TTL_S``, ``HUB_<DEPT>_MAX_CONCURRENCY``). ``HUB_NAIVE=true`` is a
benchmark baseline only, never for production: no caches, batching or coalescing anywhere.
``HUB_REDIS_URL`` makes replicas share rate limits, APQ, caches, quotas and leases
(``hub.shared``); unset, all of it stays in the process.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from connectors.base import DepartmentPolicy
from hub.security.ratelimit import CONSENT_REDEEM_ATTEMPTS, DEFAULT_POLICIES, BucketPolicy
from schema.context import CallerKind
from schema.limits import CostMode, QueryLimits

logger = logging.getLogger("ihub")

# Dev defaults: each mock's port offset from HUB_MOCKS_BASE_PORT (the same offsets as
# mocks/registry.py; a test compares) and its credentials (departments.md). Real deployments
# set HUB_<DEPT>_URL and HUB_<DEPT>_<CREDENTIAL> (e.g. HUB_LIBRARY_SECRET, HUB_YOUTH_API_KEY).
# "{var}" stands for the var directory, where the bank mocks write the keys they issue.
DEV_MOCKS_BASE_PORT = 8100
DEV_DEPARTMENTS: Mapping[str, tuple[int, Mapping[str, str]]] = {
    "youth": (1, {"api_key": "dev-youth-key"}),
    "library": (2, {"appid": "ihub-dev", "secret": "dev-library-secret"}),
    "icbc": (
        3,
        {
            "app_id": "ihub-icbc-dev",
            "app_private_key": "{var}/mocks/bank/icbc/app-private.pem",
            "bank_public_key": "{var}/mocks/bank/icbc/bank-public.pem",
        },
    ),
    "ccb": (
        4,
        {
            "app_id": "ihub-ccb-dev",
            "app_private_key": "{var}/mocks/bank/ccb/app-private.pem",
            "bank_public_key": "{var}/mocks/bank/ccb/bank-public.pem",
        },
    ),
    "locks": (
        5,
        {
            "client_id": "ihub-dev-client",
            "client_secret": "dev-lock-secret",
            "username": "luohu-property-platform",
            "password": "dev-lock-password",
        },
    ),
    "garbage": (6, {}),
    "catalogue": (7, {"api_key": "dev-catalogue-key"}),
    "population": (8, {"app": "ihub-luohu", "secret": "dev-exchange-secret"}),
    "civil": (9, {"client_id": "ihub-luohu", "client_secret": "dev-civil-secret"}),
    "hrss": (10, {"api_key": "dev-hrss-key"}),
    "credentials": (11, {"api_key": "dev-credentials-key"}),
    "sms": (
        12,
        {
            "app_id": "ihub-luohu",
            "app_secret": "dev-sms-secret",
            "sign_name": "i罗湖",
            "callback_secret": "dev-sms-callback-secret",
        },
    ),
    "wechat": (13, {"appid": "wx-ihub-luohu", "secret": "dev-wechat-secret"}),
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


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    value = _number(env, name, default)
    if value != int(value) or not 0 < value < 65536:
        raise SettingsError(f"{name} must be a TCP port number, not {env.get(name)!r}")
    return int(value)


def _names(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    return tuple(part.strip() for part in raw.split(",") if part.strip())


_LIMITS = QueryLimits()
DEV_OPERATOR_KEY = "dev-operator-key"
"""The dev hub's one operator key (name ``dev-operator``), never accepted outside dev."""
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def _operator_keys(env: Mapping[str, str], dev: bool) -> dict[str, str]:
    """``HUB_OPERATOR_KEYS`` (``name:sha256hex,…``): who may work the review queue."""
    raw = env.get("HUB_OPERATOR_KEYS", "").strip()
    if not raw:
        digest = hashlib.sha256(DEV_OPERATOR_KEY.encode()).hexdigest()
        return {"dev-operator": digest} if dev else {}
    keys: dict[str, str] = {}
    for part in raw.split(","):
        name, _, digest = part.strip().partition(":")
        if not name.strip() or not _HEX64.fullmatch(digest.strip()):
            raise SettingsError("HUB_OPERATOR_KEYS must be name:sha256hex pairs, comma-separated")
        keys[name.strip()] = digest.strip().lower()
    return keys


def _cost_mode(raw: str) -> CostMode:
    if raw == "measure":
        return "measure"
    if raw == "enforce":
        return "enforce"
    raise SettingsError(f"HUB_COST_MODE must be measure or enforce, not {raw!r}")


def _caller_kinds(
    env: Mapping[str, str], name: str, default: tuple[str, ...]
) -> tuple[CallerKind, ...]:
    """Caller kinds from a comma list (``anonymous,resident``); ``none`` for no kind at all."""
    names = _names(env, name, default)
    if names == ("none",):
        return ()
    try:
        return tuple(CallerKind(value.lower()) for value in names)
    except ValueError as exc:
        allowed = ", ".join(kind.value for kind in CallerKind)
        raise SettingsError(f"{name} lists caller kinds ({allowed}) or none") from exc


@dataclass(frozen=True)
class Settings:
    """Everything the hub can be configured with."""

    env: str = "dev"
    host: str = "127.0.0.1"
    port: int = 8000
    # where residents reach the hub (QR codes and public pages, schema.links); None: the
    # hub's own address, http://<host>:<port> (localhost for a wildcard host), fine for dev only
    public_url: str | None = None
    # the dev mocks listen on this port plus their offset (DEV_DEPARTMENTS), 8101…8113 by default
    mocks_base_port: int = DEV_MOCKS_BASE_PORT
    # persons in the government mocks' shared population (1,000 = the seeded residents)
    mocks_population: int = 1000
    var_dir: Path = Path("var")
    graphiql_dir: Path = Path("var/graphiql")
    database_url: str = "sqlite:///var/hub.db"
    seed_database: bool = True
    graphiql: bool = True
    jwt_issuer: str = "iluohu-identity-dev"
    jwt_audience: str = "ihub"
    jwt_algorithms: tuple[str, ...] = ("RS256", "ES256")
    jwt_leeway_s: float = 30.0
    # resident signing keys from the identity service's JWKS; None: the dev key pair only
    jwks_url: str | None = None
    # OpenTelemetry traces (hub.tracing) go to this OTLP/HTTP traces URL; None: tracing off
    otlp_endpoint: str | None = None
    service_name: str = "ihub"
    jwks_refresh_s: float = 300.0
    jwks_cooldown_s: float = 30.0  # the least time between refreshes for an unknown kid
    jwt_dev_key: bool | None = None  # accept `ihub token` tokens; None: only when env is dev
    max_body_bytes: int = 1_000_000
    applicant_ref_key: str | None = None
    door_attempts_per_minute: int = 5
    # consents (帮办): code redemptions a partner may try, shared by the replicas (a burst,
    # then one every two minutes): 6-digit codes cannot be brute-forced
    consent_redeem_attempts: BucketPolicy = CONSENT_REDEEM_ATTEMPTS
    # the clock consents are granted, redeemed and expire by (UTC); tests move it
    consent_clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    approvals_today: str | None = None
    """秒批's "today" (yyyy-MM-dd, Shanghai), fixed; unset = the Shanghai date now."""
    approvals_budget_s: float = 0.8
    """How long 秒批 waits for each department's evidence before NEEDS_REVIEW."""
    approvals_recheck_s: float = 30.0
    """How often queued NEEDS_REVIEW cases are re-checked (0: never automatically)."""
    operator_keys: Mapping[str, str] = field(default_factory=dict)
    """Operators of the review queue (``/operators/reviews``): name → SHA-256 of their key
    (``HUB_OPERATOR_KEYS``; a dev hub from the environment has ``dev-operator``)."""
    offers_scan_s: float = 0.0
    """How often the proactive scans run in-process (0: never; ``HUB_OFFERS_SCAN_S``, a day
    by default when read from the environment). One replica at a time: a database lease."""
    offers_dispatch_s: float = 5.0
    """How often due offer messages are sent and accepted offers filed (0: never)."""
    offers_items: tuple[str, ...] | None = None
    """The proactive items the schedule scans (``HUB_OFFERS_ITEMS``, comma-separated); all
    four when unset."""
    offers_page_size: int = 5000
    """Registry rows per page of the scan's export."""
    offers_lease_s: float = 120.0
    """How long a scan's lease lasts without a page accepted: a crashed scanner's run is
    taken over (and resumed from its cursor) after this."""
    offers_clock: Callable[[], datetime] | None = None
    """The offers' clock (UTC; quiet hours, deferrals, the scan's day); tests move it. When
    set and ``approvals_today`` is not, 秒批's "today" follows it too."""
    apq: bool = True
    rate_limits: Mapping[CallerKind, BucketPolicy] = field(
        default_factory=lambda: dict(DEFAULT_POLICIES)
    )
    require_signed_manifests: bool = False
    manifest_public_key: Path | None = None
    departments: Mapping[str, DepartmentPolicy] = field(default_factory=dict)
    # how complex an operation may be (schema.limits.QueryLimits), and who may introspect
    max_depth: int = _LIMITS.max_depth
    max_aliases: int = _LIMITS.max_aliases
    max_tokens: int = _LIMITS.max_tokens
    max_root_fields: int = _LIMITS.max_root_fields
    max_cost: int = _LIMITS.max_cost
    cost_mode: CostMode = _LIMITS.cost_mode
    introspection: tuple[CallerKind, ...] = (CallerKind.ANONYMOUS, CallerKind.RESIDENT)
    # benchmark baseline only (HUB_NAIVE), never in production: no caches of department data,
    # no batching, no coalescing. Hub-wide: every department's policy follows this one flag.
    naive: bool = False
    # admission control (hub.web.admission): executions at once per process, how many may wait
    # for a place and for how long before a 503 RATE_LIMITED
    max_in_flight: int = 128
    max_waiting: int = 1000
    admission_wait_s: float = 10.0
    # the state replicas share (hub.shared): rate limits, APQ, department caches and quotas,
    # leases. None: all of it in this process, as for one replica
    redis_url: str | None = None
    redis_prefix: str = "ihub:"
    # after start-up, move everything alive to the GC's permanent generation: the full
    # collections that follow no longer walk the libraries' and the schema's objects
    gc_freeze: bool = True
    # the cycle collector's young-generation threshold (Python's default is 700); 0 leaves
    # the process's as it is. An answer's objects are freed by reference counting
    # (schema.execution), so a young collection mostly finds what requests in flight hold
    gc_young_threshold: int = 10_000
    # public, caller-independent answers served again within their departments' TTLs
    # (hub.web.response_cache); HUB_RESPONSE_CACHE=false runs every request
    response_cache: bool = True
    # the catalogue copy (hub.catalogue): poll the changes feed every refresh_s, scenarios /
    # public services / disclosures every guides_refresh_s, a full sync every full_sync_s; the
    # refresh lease lasts lease_s; a read before the first fill waits at most start_wait_s
    catalogue_refresh_s: float = 60.0
    catalogue_guides_refresh_s: float = 3600.0
    catalogue_full_sync_s: float = 86400.0
    catalogue_lease_s: float = 180.0
    catalogue_start_wait_s: float = 10.0

    def __post_init__(self) -> None:
        if any(policy.naive != self.naive for policy in self.departments.values()):
            departments = {
                name: replace(policy, naive=self.naive) for name, policy in self.departments.items()
            }
            object.__setattr__(self, "departments", departments)

    @property
    def keys_dir(self) -> Path:
        return self.var_dir / "keys"

    @property
    def public_base_url(self) -> str:
        """The base of every public URL the hub prints (QR codes), without a trailing slash."""
        if self.public_url is not None:
            return self.public_url
        host = "localhost" if self.host in ("", "0.0.0.0", "::") else self.host  # noqa: S104
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    @property
    def accepts_dev_tokens(self) -> bool:
        """Whether resident tokens signed with the local dev key pair are accepted."""
        return self.env == "dev" if self.jwt_dev_key is None else self.jwt_dev_key

    def with_changes(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        var_dir = Path(env.get("HUB_VAR_DIR", "var"))
        hub_env = env.get("HUB_ENV", "dev")
        naive = _flag(env, "HUB_NAIVE", False)
        if naive:
            logger.warning(
                "HUB_NAIVE=true: naive mode, a benchmark baseline only, never for production: "
                "no caches, no batching and no coalescing of department calls"
            )
        mocks_base_port = _port(env, "HUB_MOCKS_BASE_PORT", DEV_MOCKS_BASE_PORT)
        public_url = public_url_of(env)
        if public_url is None and hub_env != "dev":
            logger.warning(
                "HUB_PUBLIC_URL is not set: QR codes lead to the hub's own address, which "
                "residents' phones cannot reach; set it to the URL residents use"
            )
        return cls(
            env=hub_env,
            host=env.get("HUB_HOST", "127.0.0.1"),
            port=_port(env, "HUB_PORT", 8000),
            public_url=public_url,
            mocks_base_port=mocks_base_port,
            mocks_population=_population(env),
            var_dir=var_dir,
            database_url=env.get("HUB_DATABASE_URL", f"sqlite:///{var_dir / 'hub.db'}"),
            seed_database=_flag(env, "HUB_SEED_DATABASE", hub_env == "dev"),
            graphiql=_flag(env, "HUB_GRAPHIQL", hub_env == "dev"),
            graphiql_dir=Path(env.get("HUB_GRAPHIQL_DIR", str(var_dir / "graphiql"))),
            jwt_issuer=env.get("HUB_JWT_ISSUER", "iluohu-identity-dev"),
            jwt_audience=env.get("HUB_JWT_AUDIENCE", "ihub"),
            jwt_algorithms=_names(env, "HUB_JWT_ALGORITHMS", ("RS256", "ES256")),
            jwt_leeway_s=_number(env, "HUB_JWT_LEEWAY_S", 30.0),
            jwks_url=env.get("HUB_JWKS_URL") or None,
            otlp_endpoint=_otlp_endpoint(env),
            service_name=env.get("OTEL_SERVICE_NAME") or "ihub",
            jwks_refresh_s=_number(env, "HUB_JWKS_REFRESH_S", 300.0),
            jwks_cooldown_s=_number(env, "HUB_JWKS_COOLDOWN_S", 30.0),
            jwt_dev_key=_flag(env, "HUB_JWT_DEV_KEY", hub_env == "dev"),
            max_body_bytes=int(_number(env, "HUB_MAX_BODY_BYTES", 1_000_000)),
            applicant_ref_key=env.get("HUB_APPLICANT_REF_KEY") or None,
            door_attempts_per_minute=int(_number(env, "HUB_DOOR_ATTEMPTS_PER_MINUTE", 5)),
            consent_redeem_attempts=BucketPolicy.parse(
                "consent-redeem", env["HUB_CONSENT_REDEEM_ATTEMPTS"]
            )
            if env.get("HUB_CONSENT_REDEEM_ATTEMPTS")
            else CONSENT_REDEEM_ATTEMPTS,
            approvals_today=env.get("HUB_APPROVALS_TODAY") or None,
            approvals_budget_s=_number(env, "HUB_APPROVALS_BUDGET_S", 0.8),
            approvals_recheck_s=_number(env, "HUB_APPROVALS_RECHECK_S", 30.0),
            operator_keys=_operator_keys(env, hub_env == "dev"),
            offers_scan_s=_number(env, "HUB_OFFERS_SCAN_S", 86400.0),
            offers_dispatch_s=_number(env, "HUB_OFFERS_DISPATCH_S", 5.0),
            offers_page_size=int(_number(env, "HUB_OFFERS_PAGE_SIZE", 5000)),
            offers_lease_s=_number(env, "HUB_OFFERS_LEASE_S", 120.0),
            offers_items=tuple(i.strip() for i in env["HUB_OFFERS_ITEMS"].split(",") if i.strip())
            if env.get("HUB_OFFERS_ITEMS")
            else None,
            apq=_flag(env, "HUB_APQ", True),
            rate_limits={
                kind: BucketPolicy.parse(kind.value, env[f"HUB_RATE_LIMIT_{kind.name}"])
                if env.get(f"HUB_RATE_LIMIT_{kind.name}")
                else policy
                for kind, policy in DEFAULT_POLICIES.items()
            },
            require_signed_manifests=_flag(env, "HUB_REQUIRE_SIGNED_MANIFESTS", False),
            manifest_public_key=Path(env["HUB_MANIFEST_PUBLIC_KEY"])
            if env.get("HUB_MANIFEST_PUBLIC_KEY")
            else None,
            departments={
                name: department_policy(env, name, var_dir, workers_of(env), mocks_base_port)
                for name in DEV_DEPARTMENTS
            },
            max_depth=int(_number(env, "HUB_MAX_DEPTH", _LIMITS.max_depth)),
            max_aliases=int(_number(env, "HUB_MAX_ALIASES", _LIMITS.max_aliases)),
            max_tokens=int(_number(env, "HUB_MAX_TOKENS", _LIMITS.max_tokens)),
            max_root_fields=int(_number(env, "HUB_MAX_ROOT_FIELDS", _LIMITS.max_root_fields)),
            max_cost=int(_number(env, "HUB_MAX_COST", _LIMITS.max_cost)),
            cost_mode=_cost_mode(env.get("HUB_COST_MODE") or _LIMITS.cost_mode),
            introspection=_caller_kinds(env, "HUB_INTROSPECTION", ("anonymous", "resident")),
            naive=naive,
            max_in_flight=int(_number(env, "HUB_MAX_IN_FLIGHT", 128)),
            max_waiting=int(_number(env, "HUB_MAX_WAITING", 1000)),
            admission_wait_s=_number(env, "HUB_ADMISSION_WAIT_S", 10.0),
            gc_freeze=_flag(env, "HUB_GC_FREEZE", True),
            gc_young_threshold=int(_number(env, "HUB_GC_YOUNG_THRESHOLD", 10_000)),
            response_cache=_flag(env, "HUB_RESPONSE_CACHE", True),
            catalogue_refresh_s=_number(env, "HUB_CATALOGUE_REFRESH_S", 60.0),
            catalogue_guides_refresh_s=_number(env, "HUB_CATALOGUE_GUIDES_REFRESH_S", 3600.0),
            catalogue_full_sync_s=_number(env, "HUB_CATALOGUE_FULL_SYNC_S", 86400.0),
            catalogue_lease_s=_number(env, "HUB_CATALOGUE_LEASE_S", 180.0),
            catalogue_start_wait_s=_number(env, "HUB_CATALOGUE_START_WAIT_S", 10.0),
            redis_url=env.get("HUB_REDIS_URL") or None,
            redis_prefix=env.get("HUB_REDIS_PREFIX") or "ihub:",
        )


# Policy defaults that differ by department: CCB refuses an app's 11th call in flight, so the
# hub's workers share 8 (headroom for the bank's own retries); HUB_CCB_MAX_CONCURRENCY, when
# set, is per worker as for every department.
DEFAULT_MAX_CONCURRENCY: Mapping[str, int] = {"ccb": 8}
# Per-app limits that all replicas keep together when they share a state (HUB_REDIS_URL;
# connectors.quota): CCB's calls in flight, the youth center's, the data-sharing exchange's
# and the credential check's calls per second (each process also paces its own calls under
# the same figure: connectors.pacing).
DEFAULT_APP_QUOTAS: Mapping[str, Mapping[str, int]] = {
    "ccb": {"app_max_concurrency": 8},
    "youth": {"app_calls_per_second": 20},
    "population": {"app_calls_per_second": 30},
    "credentials": {"app_calls_per_second": 5},
}


def _otlp_endpoint(env: Mapping[str, str]) -> str | None:
    """``HUB_OTLP_ENDPOINT`` as given, else the standard ``OTEL_EXPORTER_OTLP_ENDPOINT``
    (a base URL, to which the OTLP/HTTP convention adds ``/v1/traces``); else ``None``."""
    if hub := env.get("HUB_OTLP_ENDPOINT"):
        return hub
    if base := env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return base
    if base := env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return base.rstrip("/") + "/v1/traces"
    return None


# what RFC 3986 allows in a URL, unescaped: no spaces, quotes or angle brackets
_URL_CHARACTERS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")


def public_url_of(env: Mapping[str, str]) -> str | None:
    """``HUB_PUBLIC_URL``: an absolute http(s) URL with a host and at most a path (no query,
    fragment or credentials), returned without a trailing slash; ``None`` when unset."""
    raw = env.get("HUB_PUBLIC_URL", "").strip()
    if not raw:
        return None
    problem = f"HUB_PUBLIC_URL must be an http(s) URL such as https://hub.example.cn, not {raw!r}"
    try:
        parts = urlsplit(raw)
        port_ok = parts.port != 0  # reading it checks it: a bad or out-of-range port raises
    except ValueError as exc:
        raise SettingsError(problem) from exc
    if (
        not port_ok
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or parts.query
        or parts.fragment
        or not _URL_CHARACTERS.fullmatch(raw)
    ):
        raise SettingsError(problem)
    return raw.rstrip("/")


def workers_of(env: Mapping[str, str]) -> int:
    """How many worker processes share this host's department quotas: ``HUB_WORKERS``, else
    uvicorn's ``WEB_CONCURRENCY``, else 1."""
    raw = env.get("HUB_WORKERS") or env.get("WEB_CONCURRENCY") or "1"
    if not raw.isdigit() or int(raw) < 1:
        raise SettingsError("HUB_WORKERS (or WEB_CONCURRENCY) must be a whole number ≥ 1")
    return int(raw)


def _population(env: Mapping[str, str]) -> int:
    value = _number(env, "HUB_MOCKS_POPULATION", 1000)
    if value != int(value) or not 1000 <= value <= 10_000_000:
        raise SettingsError("HUB_MOCKS_POPULATION must be a whole number from 1000 to 10000000")
    return int(value)


def dev_url(name: str, mocks_base_port: int = DEV_MOCKS_BASE_PORT) -> str:
    """Where ``ihub serve`` / ``ihub mocks`` start department ``name``'s mock."""
    return f"http://127.0.0.1:{mocks_base_port + DEV_DEPARTMENTS[name][0]}"


def department_policy(
    env: Mapping[str, str],
    name: str,
    var_dir: Path = Path("var"),
    workers: int = 1,
    mocks_base_port: int = DEV_MOCKS_BASE_PORT,
) -> DepartmentPolicy:
    """Department ``name``'s policy from ``HUB_<NAME>_*`` variables, dev defaults otherwise.

    ``HUB_<NAME>_URL`` (default: the dev mock at ``mocks_base_port`` + its offset, so it
    follows ``HUB_MOCKS_BASE_PORT``) and one credential per key (``HUB_LIBRARY_SECRET``), then
    every number of ``DepartmentPolicy`` by its field name: ``_TIMEOUT_S`` (the budget of one
    call, retries included), ``_CONNECT_TIMEOUT_S``, ``_READ_TIMEOUT_S``, ``_MAX_RETRIES``,
    ``_RETRY_BASE_S``, ``_RETRY_CAP_S``, ``_BREAKER_WINDOW_S``, ``_BREAKER_MIN_CALLS``,
    ``_BREAKER_ERROR_RATE``, ``_BREAKER_OPEN_S``, ``_BREAKER_HALF_OPEN_PROBES``,
    ``_MAX_CONCURRENCY``, ``_MAX_QUEUE_WAIT_S``, ``_CACHE_TTL_S``, ``_CACHE_SIZE``,
    ``_STALE_IF_ERROR_S``, ``_APP_MAX_CONCURRENCY``, ``_APP_CALLS_PER_SECOND`` (per-app limits
    kept by all replicas together, only with ``HUB_REDIS_URL``; 0: none; the population and
    credential connectors also pace themselves at ``_APP_CALLS_PER_SECOND`` instead of their
    department's published quota when it is set).
    ``naive`` is not a per-department setting: ``Settings.naive`` (``HUB_NAIVE``) sets it.
    A department whose limit is per app (``DEFAULT_MAX_CONCURRENCY``) has it shared among
    ``workers`` by default.
    """
    prefix = f"HUB_{name.upper()}_"
    default_url, dev_credentials = dev_url(name, mocks_base_port), DEV_DEPARTMENTS[name][1]
    defaults = DepartmentPolicy(base_url=default_url)
    if name in DEFAULT_MAX_CONCURRENCY:
        shared = max(1, DEFAULT_MAX_CONCURRENCY[name] // workers)
        defaults = replace(defaults, max_concurrency=shared)
    quotas = DEFAULT_APP_QUOTAS.get(name, {})
    defaults = replace(
        defaults,
        app_max_concurrency=quotas.get("app_max_concurrency", 0),
        app_calls_per_second=quotas.get("app_calls_per_second", 0),
    )
    numbers: dict[str, Any] = {}
    for spec in fields(DepartmentPolicy):
        if spec.name in ("base_url", "credentials", "naive"):
            continue
        default = getattr(defaults, spec.name)
        value = _number(env, prefix + spec.name.upper(), default)
        if isinstance(default, int) and value != int(value):
            raise SettingsError(f"{prefix}{spec.name.upper()} must be a whole number")
        numbers[spec.name] = int(value) if isinstance(default, int) else value
    try:
        return replace(
            defaults,
            base_url=env.get(prefix + "URL", default_url),
            credentials={
                key: env.get(prefix + key.upper(), value.replace("{var}", str(var_dir)))
                for key, value in dev_credentials.items()
            },
            **numbers,
        )
    except ValueError as exc:
        raise SettingsError(f"{prefix}*: {exc}") from exc
