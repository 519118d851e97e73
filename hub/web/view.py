"""The GraphQL endpoint: strawberry's ASGI view with the hub's context, IDE and errors."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, cast

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.unset import UNSET, UnsetType

from hub.context import HubContext, RequestLoaders, Services
from hub.security.persisted import PersistedQueryError
from hub.security.ratelimit import bucket_key
from hub.web.caching import CachePolicy, apply, policy_for
from hub.web.envelope import (
    Envelope,
    EnvelopeError,
    from_body,
    from_params,
    is_mutation,
    require_operation_name,
)
from hub.web.graphiql import GraphiQL
from hub.web.middleware import request_id_of
from hub.web.response_cache import ResponseCache
from hub.web.responses import (
    GRAPHQL_RESPONSE,
    JSON,
    error_response,
    json_bytes,
    needs_preflight,
    response_media_type,
    unsupported_body,
)
from schema import HubSchema
from schema.context import CallerKind, Principal
from schema.errors import to_public
from schema.extensions import operation_sink

# set per request in __call__ (the request's own task), read by get_context and parsing
_principal: ContextVar[Principal] = ContextVar("principal")
_media: ContextVar[str] = ContextVar("media", default=JSON)
_request_error: ContextVar[bool] = ContextVar("request_error", default=False)
_envelope: ContextVar[Envelope] = ContextVar("envelope")
_cache: ContextVar[CachePolicy | None] = ContextVar("cache", default=None)


ALLOW = "GET, POST"
MUTATION_OVER_GET = "Mutations are only accepted over POST."


class HubGraphQLView(GraphQL[HubContext, None]):
    """``/graphql``: queries over GET and POST, persisted documents, GraphiQL, typed errors."""

    def __init__(
        self,
        schema: HubSchema,
        *,
        services: Services,
        graphiql: GraphiQL | None,
        public_max_age_s: int = 60,
        response_cache: ResponseCache | None = None,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if graphiql else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        )
        self._services = services
        self._graphiql = graphiql
        self._public_max_age_s = public_max_age_s
        self._response_cache = response_cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        media = response_media_type(request.headers.get("accept"))
        _media.set(media)
        _request_error.set(False)
        _cache.set(None)
        # authenticated once, before parsing: persisted-document rules depend on the caller
        principal = await self._services.authenticator.authenticate(request)
        _principal.set(principal)
        client = scope.get("client")
        decision = await self._services.rate_limiter.take(
            bucket_key(principal, client[0] if client else None),
            self._services.rate_policies[principal.kind],
        )
        if not decision.allowed:
            self._services.on_rate_limited(principal.kind.value)
            response = error_response(
                "Too many requests: slow down.", "RATE_LIMITED", 429, scope, media
            )
            response.headers["Retry-After"] = str(decision.retry_after_s)
        elif request.method not in ("GET", "POST"):
            message = "GraphQL is served over GET and POST only."
            response = error_response(message, "BAD_USER_INPUT", 405, scope, media, allow=ALLOW)
        elif unsupported_body(request):
            message = "Send the request body as application/json."
            response = error_response(message, "BAD_USER_INPUT", 415, scope, media)
        else:
            response = await self._answer(request, media)
        response.headers.update(decision.headers())
        await response(scope, receive, send)

    async def _answer(self, request: Request, media: str) -> Response:
        """A GET or POST with a JSON body: decode the envelope once, then run it."""
        scope = request.scope
        try:
            if request.method == "GET":
                envelope = from_params(request.query_params)
            else:
                envelope = from_body(await request.body())
        except EnvelopeError as exc:
            return error_response(exc.message, "BAD_USER_INPUT", 400, scope, media)
        _envelope.set(envelope)
        if request.method == "GET" and is_mutation(envelope.query, envelope.operation_name):
            return error_response(MUTATION_OVER_GET, "BAD_USER_INPUT", 405, scope, media)
        if needs_preflight(request):
            message = (
                "A GET with a query needs a GraphQL-Require-Preflight header "
                "(protection against cross-site requests)."
            )
            return error_response(message, "BAD_USER_INPUT", 400, scope, media)
        try:
            return await self.run(request)
        except EnvelopeError as exc:
            return error_response(exc.message, "BAD_USER_INPUT", 400, scope, media)
        except PersistedQueryError as exc:
            return error_response(exc.message, exc.code, exc.status, scope, media)
        except HTTPException as exc:
            # strawberry answers these in plain text; clients expect a GraphQL error body
            return error_response(exc.reason, "BAD_USER_INPUT", exc.status_code, scope, media)

    async def on_ws_connect(self, context: HubContext) -> UnsetType | dict[str, object] | None:
        """The token comes in ``connection_init``'s payload; only residents subscribe."""
        header = (context.connection_params or {}).get("Authorization")
        principal = await self._services.authenticator.authenticate_header(
            header if isinstance(header, str) else None
        )
        if principal.kind is not CallerKind.RESIDENT:
            raise ConnectionRejectionError({"reason": principal.auth_problem or "no token"})
        context.principal = principal
        unset: UnsetType = UNSET
        return unset

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> HubContext:
        services = self._services
        websocket = isinstance(request, WebSocket)
        return HubContext(
            request=cast(Request, request),
            response=cast(Response, response),
            request_id=request_id_of(request.scope),
            principal=Principal.anonymous() if websocket else _principal.get(),
            directory=services.directory,
            idempotency=services.idempotency,
            records=services.records,
            audit_log=services.audit_log,
            catalogue=services.catalogue,
            approvals=services.approvals,
            offers=services.offers,
            public_links=services.public_links,
            consents=services.consents,
            filings=services.filings,
            redemption_attempts=services.redemption_attempts,
            loaders=RequestLoaders(services.connectors),
        )

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        envelope = _envelope.get()  # decoded and validated in _answer, before anything else
        data = GraphQLRequestData(
            query=envelope.query,
            variables=envelope.variables,
            operation_name=envelope.operation_name,
            extensions=envelope.extensions,
        )
        resolved = await self._services.persisted.resolve(
            data, envelope.document_id, _principal.get()
        )
        require_operation_name(resolved.query, resolved.operation_name)
        if request.method == "GET":
            _cache.set(
                policy_for(
                    _principal.get(),
                    envelope.query,
                    resolved.query,
                    resolved.operation_name,
                    request.headers.get("if-none-match"),
                )
            )
        return resolved

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: HubContext,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        cache = self._response_cache
        lookup = None
        if cache is not None:
            query, name = request_data.query, request_data.operation_name
            lookup = cache.lookup(context.principal, query, name, request_data.variables)
            if lookup is not None:
                hit = cache.get(lookup)
                if hit is not None:
                    sink = operation_sink.get()
                    if sink is not None:
                        sink(lookup.plan.name, "ok")
                    return hit
            started = cache.now()
        try:
            result = await super().execute_single(
                request, request_adapter, sub_response, context, root_value, request_data
            )
        except HTTPException as exc:
            if isinstance(exc.__cause__, InvalidOperationTypeError):
                raise HTTPException(405, MUTATION_OVER_GET) from exc
            raise
        finally:
            if cache is not None and cache.is_mutation(
                request_data.query, request_data.operation_name
            ):
                cache.invalidate()  # e.g. an enrolment: the course list's seats changed
        if lookup is not None and cache is not None:
            cache.put(lookup, result, context.loaders.departments, started)
        return result

    def should_render_graphql_ide(self, request: Any) -> bool:
        """Only a browser opening ``/graphql``: not a client sending a persisted document."""
        params = request.query_params
        return (
            request.method == "GET"
            and "text/html" in request.headers.get("accept", "")
            and not any(params.get(name) for name in ("query", "extensions", "documentId"))
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        assert self._graphiql is not None
        html, status = self._graphiql.page()
        return HTMLResponse(html, status_code=status)

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        # the schema extension already did this; errors raised outside it get it here
        if result.errors:
            request_id = request_id_of(request.scope)
            result.errors = [to_public(error, request_id) for error in result.errors]
        processed = await super().process_result(request, result)
        if _is_request_error(result):
            # a request error: execution never began, so there is no data entry at all
            processed.pop("data", None)
            _request_error.set(True)
        return processed

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        media = _media.get()
        response.headers["content-type"] = f"{media}; charset=utf-8"
        if media == GRAPHQL_RESPONSE and _request_error.get():
            response.status_code = 400
        cache = _cache.get()
        if cache is not None:
            errors = isinstance(response_data, list) or bool(response_data.get("errors"))
            response = apply(cache, response, errors, self._public_max_age_s)
        return response

    def encode_json(self, data: Any) -> bytes:
        return json_bytes(data)


def _is_request_error(result: ExecutionResult) -> bool:
    """The document did not parse or validate, or the variables did not coerce."""
    if isinstance(result, PreExecutionError):
        return True
    errors = result.errors or []
    return result.data is None and bool(errors) and all(e.path is None for e in errors)
