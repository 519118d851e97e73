"""``create_app(settings)``: the one place where the hub is assembled."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, cast

import aiohttp
from graphql import GraphQLSchema
from opentelemetry.sdk.trace.export import SpanExporter
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute

from connectors.base import Connector
from connectors.catalogue import CatalogueConnector
from connectors.shared import InProcessLeases, Lease
from hub.approvals import approval_clock
from hub.approvals.rechecker import Rechecker
from hub.approvals.service import ApprovalService
from hub.catalogue import CatalogueCopy, sync_settings
from hub.collector import Freezer, PauseTimer, young
from hub.context import Services
from hub.departments import DEPARTMENTS
from hub.offers.acceptance import Acceptance
from hub.offers.broker import OfferBroker
from hub.offers.clock import real_clock, shanghai_day
from hub.offers.dispatcher import Dispatcher
from hub.offers.residents import AppOffers
from hub.offers.scheduler import OfferRounds, Scanner
from hub.offers.store import OfferStore
from hub.security.auth import (
    PARTNER_SUBJECT,
    Authenticator,
    DevKeys,
    KeyChain,
    KeySource,
    StaticKeys,
    TokenVerifier,
)
from hub.security.jwks import JwksKeySet
from hub.security.partners import PARTNER_AUDIENCE, PartnerRegistry, seed_dev_partners
from hub.security.persisted import PersistedDocuments
from hub.security.ratelimit import InProcessRateLimiter, RateLimiter, RedemptionLimiter
from hub.settings import Settings
from hub.store.audit import SqlAuditLog
from hub.store.consents import SqlConsents
from hub.store.db import Database, create_tables, initialising, make_engine
from hub.store.decisions import SqlDecisions, SqlReviews
from hub.store.directory import SqlResidentDirectory
from hub.store.filings import ConsentFilings
from hub.store.idempotency import SqlIdempotencyStore
from hub.store.records import SqlHubRecords, applicant_key
from hub.store.seed import seed_database
from hub.tracing import TracingMiddleware, tracer_provider
from hub.web.admission import Admission, AdmissionMiddleware
from hub.web.devtoken import dev_token_endpoint
from hub.web.explorer import load_examples
from hub.web.graphiql import GraphiQL
from hub.web.middleware import BodyLimitMiddleware, RequestIdMiddleware, ServerTimingMiddleware
from hub.web.oauth import HUB_ISSUER, token_endpoint
from hub.web.operators import HubObserver, OperationMetrics, operator_routes
from hub.web.pages import PublicPages
from hub.web.qr import QrImages
from hub.web.response_cache import ResponseCache
from hub.web.reviews import review_routes
from hub.web.view import HubGraphQLView
from hub.web.webhooks import webhook_routes
from schema import build_schema
from schema.context import CallerKind
from schema.limits import QueryLimits
from schema.links import PublicLinks

if TYPE_CHECKING:  # Redis's client is imported only by a hub that has HUB_REDIS_URL (~9 MB)
    from hub.shared.backend import RedisState

DEV_TOKEN_PATH = "/dev/token"  # noqa: S105 (a route, not a secret)
logger = logging.getLogger("ihub")


@dataclass
class HubState:
    """What lives as long as the process: database, one HTTP session per department."""

    settings: Settings
    database: Database
    schema: GraphQLSchema
    database_initialised: bool = False
    sessions: list[aiohttp.ClientSession] = field(default_factory=list)
    connectors: dict[str, Connector] = field(default_factory=dict)
    observer: HubObserver = field(default_factory=HubObserver)
    admission: Admission | None = None
    freezer: Freezer = field(default_factory=Freezer)
    redis: RedisState | None = None
    """The replicas' shared state (``HUB_REDIS_URL``), or ``None``: this process alone."""
    leases: Lease = field(default_factory=InProcessLeases)
    """Leases for background work (scans, refreshes): ``acquire(name, owner, ttl_s)`` before,
    ``renew`` while it runs, ``release`` after; shared by all replicas with Redis."""
    offers: OfferRounds | None = None
    """主动推送's background rounds (scan, dispatch, filing) and their parts."""
    offer_broker: OfferBroker = field(default_factory=OfferBroker)


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readiness(state: HubState) -> dict[str, object]:
    """``status`` (``ready`` / ``not ready``) and ``database``, for ``/readyz`` and ``/status``.

    Ready means the database answers (public data needs no database, personal data does).
    With ``HUB_REDIS_URL``, ``sharedState`` says whether Redis answers; it never makes the
    hub not ready (the hub degrades to per-process state)."""
    try:
        await state.database.ping()
        if not state.database_initialised:
            await _initialise_database(state)
        database = {"status": "ok"}
    except Exception as exc:
        logger.warning("readiness: database unreachable: %s", type(exc).__name__)
        database = {"status": "unreachable"}
    ready: dict[str, object] = {"status": "ready" if database["status"] == "ok" else "not ready"}
    ready["database"] = database
    if state.redis is not None:
        # informative only: without Redis a replica still answers, on its own state
        reachable = await state.redis.reachable()
        ready["sharedState"] = {"status": "ok" if reachable else "unreachable"}
    return ready


async def readyz(request: Request) -> JSONResponse:
    state: HubState = request.app.state.hub
    ready = await readiness(state)
    departments = {name: c.health.as_json() for name, c in state.connectors.items()}
    return JSONResponse(
        {**ready, "departments": departments},
        status_code=200 if ready["status"] == "ready" else 503,
    )


def create_app(settings: Settings, *, span_exporter: SpanExporter | None = None) -> Starlette:
    """The hub as an ASGI app. Nothing is opened until the lifespan starts.

    ``span_exporter`` turns tracing on with that exporter (tests); otherwise tracing is on
    only when ``settings.otlp_endpoint`` is set (``hub.tracing``)."""
    provider = tracer_provider(settings, span_exporter)
    engine = make_engine(settings.database_url)
    database = Database(engine)
    schema = build_schema(
        limits=QueryLimits(
            max_depth=settings.max_depth,
            max_aliases=settings.max_aliases,
            max_tokens=settings.max_tokens,
            max_root_fields=settings.max_root_fields,
            max_cost=settings.max_cost,
            cost_mode=settings.cost_mode,
        ),
        introspection={kind: kind in settings.introspection for kind in CallerKind},
    )
    state = HubState(settings, database, schema._schema)
    keys = DevKeys.load_or_create(settings.keys_dir)
    jwks, resident_keys = _resident_keys(settings, keys)
    residents = TokenVerifier(
        resident_keys,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        algorithms=settings.jwt_algorithms,
        leeway_s=settings.jwt_leeway_s,
    )
    partner_tokens = TokenVerifier(
        {keys.kid: keys.public_pem},
        issuer=HUB_ISSUER,
        audience=PARTNER_AUDIENCE,
        leeway_s=settings.jwt_leeway_s,
        subject=PARTNER_SUBJECT,
    )
    partners = PartnerRegistry(database, keys, issuer=HUB_ISSUER)
    redis = state.redis = _redis_state(settings, state.observer)
    if redis is not None:
        state.leases = redis
    shared = redis.shared() if redis is not None else None
    catalogue = CatalogueCopy(
        lambda: cast(CatalogueConnector, state.connectors["catalogue"]),
        database,
        sync_settings(settings),
        observer=state.observer,
    )
    directory = SqlResidentDirectory(database)
    offers_clock = settings.offers_clock or real_clock
    approvals_today = approval_clock(settings.approvals_today)
    if settings.offers_clock is not None and settings.approvals_today is None:
        approvals_today = lambda: shanghai_day(offers_clock())  # noqa: E731
    approvals = ApprovalService(
        state.connectors,
        SqlDecisions(database),
        today=approvals_today,
        budget_s=settings.approvals_budget_s,
        reviews=SqlReviews(database),
        directory=directory,
        catalogue=catalogue,
    )
    rechecker = Rechecker(
        approvals,
        interval_s=settings.approvals_recheck_s,
        registry=state.observer.registry,
    )
    offers = _offers(state, settings, approvals, directory, offers_clock)
    rate_limiter: RateLimiter = InProcessRateLimiter()
    if redis is not None:
        from hub.shared.ratelimit import SharedRateLimiter

        rate_limiter = SharedRateLimiter(redis, fallback=InProcessRateLimiter())
    services = Services(
        authenticator=Authenticator(residents, partner_tokens),
        directory=directory,
        idempotency=SqlIdempotencyStore(database, fingerprint_key=applicant_key(settings)),
        records=SqlHubRecords(
            database,
            applicant_key=applicant_key(settings),
            door_attempts_per_minute=settings.door_attempts_per_minute,
        ),
        audit_log=SqlAuditLog(database),
        catalogue=catalogue,
        approvals=approvals,
        offers=AppOffers(
            offers.scanner.store,
            offers.acceptance,
            approvals,
            clock=offers_clock,
            broker=state.offer_broker,
            connectors=state.connectors,
        ),
        public_links=PublicLinks(settings.public_base_url),
        persisted=PersistedDocuments(
            database, partners, schema._schema, apq=settings.apq, shared=redis
        ),
        connectors=state.connectors,
        consents=SqlConsents(
            database, code_key=applicant_key(settings), clock=settings.consent_clock
        ),
        filings=ConsentFilings(database, approvals, directory, clock=settings.consent_clock),
        redemption_attempts=RedemptionLimiter(rate_limiter, settings.consent_redeem_attempts),
        rate_limiter=rate_limiter,
        rate_policies=settings.rate_limits,
        on_rate_limited=state.observer.rate_limited,
    )
    dev_token = settings.env == "dev" and settings.accepts_dev_tokens
    graphiql = _graphiql(settings, dev_token=dev_token)
    # a CDN may keep a public answer no longer than the hub's own shortest cache would
    max_age = min((p.cache_ttl_s for p in settings.departments.values()), default=60.0)
    response_cache = (
        ResponseCache(
            {name: p.cache_ttl_s for name, p in settings.departments.items()},
            on_event=state.observer.cache,
        )
        if settings.response_cache and not settings.naive
        else None
    )
    view = HubGraphQLView(
        schema,
        services=services,
        graphiql=graphiql,
        public_max_age_s=int(max_age),
        response_cache=response_cache,
    )
    catalogue_policy = settings.departments.get("catalogue")
    pages = PublicPages(
        services,
        max_age_s=int(catalogue_policy.cache_ttl_s if catalogue_policy else max_age),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            await _initialise_database(state)
        except Exception as exc:
            # public data needs no database: serve it, and report not-ready until it is back
            logger.error(
                "database unreachable at start-up (%s); /readyz says so", type(exc).__name__
            )
        for department in DEPARTMENTS:
            policy = settings.departments[department.name]
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=policy.max_concurrency * 2),
                headers={"User-Agent": "ihub/0.1"},
            )
            state.sessions.append(session)
            state.connectors[department.name] = department.connector(
                session, policy, observer=state.observer, shared=shared
            )
        rechecker.start()
        state.offer_broker.start()
        offers.start()
        catalogue.start()  # in the background: reads wait for the first load, within a bound
        fetching = None
        if graphiql is not None and not graphiql.ready:
            fetching = asyncio.create_task(_fetch_graphiql(graphiql))
        if jwks is not None:
            await jwks.start()
        pauses = PauseTimer(state.observer.gc_pause)  # ihub_gc_pause_seconds
        pauses.start()
        if settings.gc_young_threshold > 0:
            young(settings.gc_young_threshold)
        freezing = None
        if settings.gc_freeze:
            # what start-up built lives as long as the process: later collections skip it,
            # and the catalogue copy once its first refresh has loaded it (hub.collector)
            state.freezer.freeze("start-up")
            freezing = asyncio.create_task(
                state.freezer.freeze_after(catalogue.refreshed, "catalogue loaded")
            )
        try:
            yield
        finally:
            pauses.stop()
            if freezing is not None:
                freezing.cancel()
            await catalogue.stop()
            await offers.stop()
            await state.offer_broker.stop()
            await rechecker.stop()
            if jwks is not None:
                await jwks.stop()
            if fetching is not None:
                assert graphiql is not None
                graphiql.stop()  # the npm child is killed, the thread ends
                fetching.cancel()
            for session in state.sessions:
                await session.close()
            state.sessions.clear()
            state.connectors.clear()
            if redis is not None:
                await redis.aclose()
            await asyncio.to_thread(database.close)  # the audit writer's connection
            engine.dispose()
            if provider is not None:
                provider.shutdown()  # flushes the spans still waiting for export

    admission = state.admission = Admission(
        settings.max_in_flight, settings.max_waiting, settings.admission_wait_s
    )
    routes = [
        Route("/graphql", view),  # the view answers other methods 405
        WebSocketRoute("/graphql", view),  # subscriptions: graphql-transport-ws
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/oauth/token", token_endpoint(partners), methods=["POST"]),
        *operator_routes(
            state,
            readiness=lambda: readiness(state),
            catalogue=catalogue.status,
            approvals=rechecker.status,
            offers=offers.status,
            collector=state.freezer.status,
        ),
        *review_routes(approvals, settings.operator_keys),  # the 秒批 review queue
        *webhook_routes(state.connectors, offers.acceptance),
        *pages.routes(),  # what the catalogue's QR codes open
        *QrImages(services).routes(),
    ]
    if graphiql is not None:
        routes.append(Route("/graphiql/assets/{name}", graphiql.serve_asset, methods=["GET"]))
    if dev_token:
        routes.append(Route(DEV_TOKEN_PATH, dev_token_endpoint(keys, settings), methods=["POST"]))
    tracing = (
        []
        if provider is None
        else [Middleware(TracingMiddleware, tracer=provider.get_tracer("ihub"))]
    )
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(RequestIdMiddleware),
            *tracing,
            Middleware(ServerTimingMiddleware),
            Middleware(OperationMetrics, observer=state.observer),
            Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes),
            Middleware(
                AdmissionMiddleware,
                admission=admission,
                on_refused=state.observer.overloaded,
            ),
        ],
        lifespan=lifespan,
    )
    app.state.hub = state
    app.state.schema = schema  # the differential test runs it with the general executor too
    return app


def _offers(
    state: HubState,
    settings: Settings,
    approvals: ApprovalService,
    directory: SqlResidentDirectory,
    clock: Callable[[], datetime],
) -> OfferRounds:
    """主动推送's parts: the store, the dispatcher, acceptance, the leased scanner."""
    store = OfferStore(state.database)
    count = state.observer.offer_event
    state.offer_broker = OfferBroker(state.redis)
    dispatcher = Dispatcher(
        store, state.connectors, clock=clock, broker=state.offer_broker,
        decision_of=approvals.decision, count=count,
    )  # fmt: skip
    acceptance = Acceptance(
        store, state.database, state.connectors, approvals, directory, clock=clock, count=count
    )
    scanner = Scanner(
        store, state.connectors, clock=clock, count=count, lease_s=settings.offers_lease_s,
        page_size=settings.offers_page_size,
    )  # fmt: skip
    state.offers = OfferRounds(
        scanner, dispatcher, acceptance,
        scan_s=settings.offers_scan_s, dispatch_s=settings.offers_dispatch_s,
        items=settings.offers_items, ready=lambda: state.database_initialised,
    )  # fmt: skip
    return state.offers


async def _initialise_database(state: HubState) -> None:
    """Create the tables (and the dev data when configured) once the database answers; one
    process at a time (``initialising``), so replicas starting together do not race."""
    engine, seed = state.database.engine, state.settings.seed_database

    def initialise() -> tuple[bool, list[str]]:
        with initialising(engine):
            create_tables(engine)
            seeded = seed and seed_database(engine)
            if not seed:
                return seeded, []
            with Session(engine) as session:
                return seeded, seed_dev_partners(session, state.schema)

    seeded, added = await asyncio.to_thread(initialise)
    if seeded:
        logger.info("seeded the hub's tables with dev data")
    if added:
        logger.info("registered dev partners %s with their example manifests", added)
    state.database_initialised = True


def _redis_state(settings: Settings, observer: HubObserver) -> RedisState | None:
    if settings.redis_url is None:
        return None
    if settings.applicant_ref_key is None:
        # each replica would make a key of its own under var/keys: its idempotency
        # fingerprints and bank applicant references would differ from the others'
        logger.warning(
            "HUB_REDIS_URL is set but HUB_APPLICANT_REF_KEY is not: replicas must share one "
            "key, or a mutation retried on another replica is refused as a different request"
        )
    from hub.shared.backend import RedisState

    return RedisState(
        settings.redis_url,
        prefix=settings.redis_prefix,
        on_unavailable=observer.shared_state_unavailable,
        on_state=observer.shared_state,
    )


def _graphiql(settings: Settings, *, dev_token: bool) -> GraphiQL | None:
    if not settings.graphiql:
        return None
    return GraphiQL(
        settings.graphiql_dir,
        examples=load_examples(),
        dev_token_url=DEV_TOKEN_PATH if dev_token else None,
    )


async def _fetch_graphiql(graphiql: GraphiQL) -> None:
    try:
        await asyncio.to_thread(graphiql.fetch)
        logger.info("GraphiQL assets fetched and verified")
    except Exception as exc:
        logger.warning(
            "GraphiQL assets unavailable (run `ihub graphiql fetch`), /graphql shows how: %s", exc
        )


def _resident_keys(settings: Settings, keys: DevKeys) -> tuple[JwksKeySet | None, KeySource]:
    """The identity service's JWKS (when configured) and the dev key pair (when allowed)."""
    sources: list[KeySource] = []
    if settings.accepts_dev_tokens:
        sources.append(StaticKeys({keys.kid: keys.public_pem}))
    jwks = None
    if settings.jwks_url:
        jwks = JwksKeySet(
            settings.jwks_url,
            algorithms=settings.jwt_algorithms,
            refresh_s=settings.jwks_refresh_s,
            cooldown_s=settings.jwks_cooldown_s,
        )
        sources.append(jwks)
    if not sources:
        logger.warning("no resident signing keys: set HUB_JWKS_URL; every resident token fails")
    return jwks, KeyChain(*sources)
