"""The GraphQL endpoint: strawberry's ASGI view with the hub's context, IDE and errors."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from connectors.base import Connector
from hub.auth import Authenticator
from hub.context import HubContext, RequestLoaders
from hub.graphiql import GraphiQL
from hub.middleware import request_id_of
from schema import HubSchema
from schema.context import HubRecords, IdempotencyStore, ResidentDirectory
from schema.errors import to_public


class HubGraphQLView(GraphQL[HubContext, None]):
    """``/graphql``: queries over GET and POST, GraphiQL for browsers, typed errors only."""

    def __init__(
        self,
        schema: HubSchema,
        *,
        authenticator: Authenticator,
        directory: ResidentDirectory,
        idempotency: IdempotencyStore,
        records: HubRecords,
        connectors: Mapping[str, Connector],
        graphiql: GraphiQL | None,
    ) -> None:
        super().__init__(schema, graphql_ide="graphiql" if graphiql else None)
        self._authenticator = authenticator
        self._directory = directory
        self._idempotency = idempotency
        self._records = records
        self._connectors = connectors
        self._graphiql = graphiql

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope, receive))
        except HTTPException as exc:
            # strawberry answers these in plain text; clients expect a GraphQL error body
            response = self._request_error(exc.status_code, exc.reason, scope)
        await response(scope, receive, send)

    def _request_error(self, status: int, message: str, scope: Scope) -> Response:
        request_id = request_id_of(scope)
        body = {"errors": [{"message": message, "extensions": {"code": "BAD_USER_INPUT"}}]}
        headers = {"Allow": "GET, POST"} if status == 405 else None
        response = JSONResponse(body, status_code=status, headers=headers)
        response.headers["X-Request-Id"] = request_id
        return response

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> HubContext:
        assert isinstance(request, Request) and isinstance(response, Response)
        return HubContext(
            request=request,
            response=response,
            request_id=request_id_of(request.scope),
            principal=self._authenticator.authenticate(request),
            directory=self._directory,
            idempotency=self._idempotency,
            records=self._records,
            loaders=RequestLoaders(self._connectors),
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        assert self._graphiql is not None
        return HTMLResponse(self._graphiql.html)

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        # the schema extension already did this; errors raised outside it get it here
        if result.errors:
            request_id = request_id_of(request.scope)
            result.errors = [to_public(error, request_id) for error in result.errors]
        return await super().process_result(request, result)

    def encode_json(self, data: Any) -> str:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
