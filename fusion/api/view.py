"""POST /graphql: authentication, the operators' allowlist, execution, and the audit record.

Every request to /graphql — allowed, denied or failed, including bodies that are too large or
not JSON — is appended to the audit log, exactly once, before its response leaves (a request
whose record cannot be written is answered UNAVAILABLE instead). The body is read and checked
here (:mod:`fusion.api.requests`) and handed to strawberry already parsed. GET /graphql opens
the offline console; queries are never accepted over GET.
"""

from __future__ import annotations

import logging

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData, process_result
from strawberry.types import ExecutionResult

from fusion.api.calling import REQUEST, observing
from fusion.api.console import CONSOLE_CSP, console_html
from fusion.api.context import Context
from fusion.api.dataloaders import Loaders
from fusion.api.errors import error_body, fusion_code
from fusion.api.requests import BodyTooLarge, RequestRecord, parse_body, read_body
from fusion.api.resources import Resources
from fusion.api.saved import is_saved_document
from fusion.auth import authenticate
from fusion.auth.access import TRUSTED_DOCUMENTS_ONLY
from fusion.errors import AuditUnavailable, BadInput, Forbidden, FusionError

logger = logging.getLogger("fusion.api")

# HTTP status of errors that refuse a whole request before execution.
_STATUS = {"UNAUTHENTICATED": 401, "FORBIDDEN": 403, "BAD_INPUT": 400, "UNAVAILABLE": 503}
SAVED_ONLY = ("The role {role} may only run saved queries: list them with "
              "`{{ savedQueries {{ name description }} }}` and run one with "
              "`runSavedQuery(name: ..., variables: ...)`.")


class FusionGraphQL(GraphQL):
    """strawberry's ASGI view with Fusion's request handling around it."""

    def __init__(self, services_of, schema, path: str = "/graphql") -> None:
        super().__init__(schema, graphql_ide=None, allow_queries_via_get=False,
                         multipart_uploads_enabled=False)
        self._services_of = services_of
        self._path = path

    async def run(self, request, context=None, root_value=None) -> Response:
        if self.is_websocket_request(request):
            await request.close(code=1008)  # no subscriptions
            return request
        if request.method == "GET" and "query" not in request.query_params:
            return HTMLResponse(console_html(self._path), headers={
                "Content-Security-Policy": CONSOLE_CSP, "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"})
        services: Resources = self._services_of(request)
        record = RequestRecord()
        request.state.fusion_record = record
        with observing(services, record):
            response = await self._answer(request, services, record)
        return await self._audited(services, record, response)

    async def _answer(self, request: Request, services: Resources, record: RequestRecord
                      ) -> Response:
        try:
            await self._admit(request, services, record)
            return await super().run(request)
        except FusionError as err:
            code = fusion_code(err)
            record.fail(code)
            status = 413 if isinstance(err, BodyTooLarge) else _STATUS.get(code, 400)
            return JSONResponse(error_body(code, str(err), record.id), status_code=status)
        except HTTPException as err:
            record.fail("BAD_INPUT")
            return JSONResponse(error_body("BAD_INPUT", err.reason, record.id),
                                status_code=err.status_code)
        except Exception:  # a bug: logged, masked, and still audited like any request
            logger.exception("request %s: unexpected error", record.id)
            record.fail("INTERNAL")
            return JSONResponse(error_body("INTERNAL", f"Internal error; reference {record.id}.",
                                           record.id), status_code=500)

    async def _admit(self, request: Request, services: Resources, record: RequestRecord) -> None:
        """Read the body, authenticate, and apply the operators' allowlist.

        A malformed body is refused after authentication (an unauthenticated caller learns
        only that), but one too large is refused before, without reading the rest.
        """
        if request.method not in ("GET", "POST"):
            raise BadInput("GraphQL requests are POSTed to /graphql.")
        body = await read_body(request.stream(), request.headers.get("content-length"))
        record.purpose = (request.headers.get("x-purpose") or "").strip() or None
        malformed = None
        if request.method == "POST":
            try:
                record.take(parse_body(body, request.headers.get("content-type")),
                            services.settings.api_max_tokens)
            except BadInput as err:
                malformed = err
        record.caller = authenticate(request.headers.get("authorization"), services.secret)
        if request.method == "GET":
            raise BadInput("Queries are POSTed to /graphql (never sent in a URL).")
        if malformed is not None:
            raise malformed
        # Only the allowlisted roles gain anything from sending a saved document.
        request.state.fusion_trusted = False
        if record.caller.role in TRUSTED_DOCUMENTS_ONLY:
            if not await is_saved_document(services, record.document):
                raise Forbidden(SAVED_ONLY.format(role=record.caller.role))
            request.state.fusion_trusted = True
        record.admitted = True

    async def parse_http_body(self, request_adapter) -> GraphQLRequestData:
        """The body :meth:`_admit` already read and checked (strawberry never re-reads it)."""
        record = REQUEST.get()
        return GraphQLRequestData(query=record.document, variables=record.variables,
                                  operation_name=record.operation_name, extensions=None)

    async def get_context(self, request: Request, response: Response) -> Context:
        services: Resources = self._services_of(request)
        record: RequestRecord = request.state.fusion_record
        return Context(services=services, record=record, caller=record.caller,
                       loaders=Loaders(services), request=request, response=response,
                       trusted=request.state.fusion_trusted)

    async def process_result(self, request: Request, result: ExecutionResult
                             ) -> GraphQLHTTPResponse:
        request.state.fusion_record.finish(result.data, result.errors)
        return process_result(result)

    async def _audited(self, services: Resources, record: RequestRecord, response: Response
                       ) -> Response:
        caller = record.caller
        try:
            await services.audit.append(
                user=caller.user if caller else None, role=caller.role if caller else None,
                document=record.document, purpose=record.purpose, **record.audit_fields(),
                scope=sorted(record.scopes) if record.scopes else None,
                outcome=record.outcome, result_count=record.result_count)
        except AuditUnavailable:
            logger.exception("request %s: audit record not written; answer withheld", record.id)
            record.fail("UNAVAILABLE")
            response = JSONResponse(error_body("UNAVAILABLE", "The audit log cannot be "
                                               "written; the request was not answered.",
                                               record.id), status_code=503)
        if services.metrics is not None:
            services.metrics.observe_request(record.operation_name, record.elapsed(),
                                             record.outcome, statements=record.statements,
                                             authenticated=caller is not None)
        response.headers["x-request-id"] = record.id
        return response
