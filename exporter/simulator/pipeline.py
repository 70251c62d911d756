"""What happens to every request: faults first, then the API, then common headers and the log."""

from __future__ import annotations

import logging
import time
import uuid

from exporter.simulator.clock import Clock
from exporter.simulator.faults import FaultDecision, FaultInjector
from exporter.simulator.odata_query import decode_query
from exporter.simulator.request_log import RequestLog, SimRequest
from exporter.simulator.responses import Request, Response, error_response
from exporter.simulator.routes import Route, parse_route
from exporter.simulator.v2_service import V2Service

log = logging.getLogger(__name__)


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


class Pipeline:
    def __init__(
        self, service: V2Service, faults: FaultInjector, requests: RequestLog, clock: Clock
    ) -> None:
        self.service = service
        self.faults = faults
        self.requests = requests
        self.clock = clock

    def __call__(self, request: Request) -> Response:
        route = parse_route(request.path)
        decision = self.faults.decide(route.account)
        try:
            response = self._answer(request, route, decision)
        except Exception:  # a simulator bug must still give the client an answer
            log.exception("simulator failed on %s %s", request.method, request.target)
            response = error_response(500, "Internal error in the simulator.")
        if not response.reset:
            response.headers.extend(self._common_headers(request))
        self.requests.record(
            SimRequest(
                method=request.method,
                path=request.target,
                account=route.account,
                kind=route.kind,
                status=0 if response.reset else response.status,
                headers=dict(request.headers),
                decoded_query=dict(decode_query(request.query, errors="replace")),
                time=self.clock(),
            )
        )
        return response

    def _answer(self, request: Request, route: Route, decision: FaultDecision) -> Response:
        if self.faults.down:
            return error_response(500, "The service is unavailable (simulated outage).")
        if decision.latency > 0:
            time.sleep(decision.latency)  # real time: latency is about the wire, not the clock
        if decision.reset:
            return Response(0, reset=True)
        if decision.throttle:
            retry_after = decision.settings.retry_after
            headers = [] if retry_after is None else [("Retry-After", _seconds(retry_after))]
            return error_response(503, "Server is busy. Please retry the request later.", headers)
        if decision.error:
            return error_response(decision.settings.error_status, "Simulated server error.")
        response = self.service.handle(request, route)
        if decision.malformed:
            # A complete HTTP answer whose JSON stops half-way.
            truncated = response.body[: len(response.body) // 2] or b"{"
            return Response(200, truncated, [h for h in response.headers if h[0] != "Location"])
        return response

    @staticmethod
    def _common_headers(request: Request) -> list[tuple[str, str]]:
        request_id = str(uuid.uuid4())
        headers = [
            ("DataServiceVersion", "3.0;"),
            ("Cache-Control", "no-cache"),
            ("request-id", request_id),
            ("x-ms-request-id", request_id),
        ]
        client_id = request.header("client-request-id")
        if client_id is not None:
            headers.append(("x-ms-client-request-id", client_id))
        return headers
