"""What happens to every request: routing to an API, faults, the answer, headers, the log.

The APIs sharing the server, in routing order: RMS sign-in (`/auth/token`), MK.IO
(`/api/v1/...`), Azure AD (`/{tenant}/...`), v3 ARM (`/subscriptions/...`, logged as
"rms" when the path names an RMS account) and v2 (everything else, including the
legacy `/api/`). Injected faults apply to the media APIs, each answering in its own
error format (throttling is 503 on v2, 429 on v3, RMS and MK.IO); the sign-in routes
(Azure AD, RMS) are only affected by set_down(), so token fetches do not consume the
fault injector's random draws.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from exporter.simulator.aad import AadService, parse_aad_path
from exporter.simulator.arm_routes import parse_arm_path
from exporter.simulator.clock import Clock
from exporter.simulator.faults import FaultDecision, FaultInjector
from exporter.simulator.mkio_routes import parse_mkio_path
from exporter.simulator.mkio_service import MkioService, mkio_error
from exporter.simulator.odata_query import decode_query
from exporter.simulator.request_log import RequestLog, SimRequest
from exporter.simulator.responses import Request, Response, error_response
from exporter.simulator.rms import RmsService, problem
from exporter.simulator.routes import parse_route
from exporter.simulator.v2_service import V2Service
from exporter.simulator.v3_service import V3Service, arm_error

log = logging.getLogger(__name__)

_NO_FAULTS = FaultDecision()


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


@dataclass(frozen=True)
class _Target:
    """One request's destination and how that API answers."""

    api: str  # v2, v3, aad, rms, mkio
    kind: str
    account: str | None
    handle: Callable[[], Response]
    error: Callable[[int, str], Response]
    throttled: Callable[[float | None], Response]
    headers: Callable[[], list[tuple[str, str]]]
    faults: bool = True


def _v2_throttled(retry_after: float | None) -> Response:
    headers = [] if retry_after is None else [("Retry-After", _seconds(retry_after))]
    return error_response(503, "Server is busy. Please retry the request later.", headers)


def _v2_headers(request: Request) -> list[tuple[str, str]]:
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


def _rms_sign_in(pipeline: Pipeline, request: Request) -> _Target | None:
    rms = pipeline.rms
    if rms is None or not rms.is_token_path(request.path):
        return None
    return _Target(
        "rms", "token", None,
        handle=lambda: rms.handle(request),
        error=lambda status, message: problem(status, message),
        throttled=lambda _: problem(503, "Throttled."),
        headers=list,
        faults=False,
    )


def _mkio(pipeline: Pipeline, request: Request) -> _Target | None:
    mkio = pipeline.mkio
    route = parse_mkio_path(request.path) if mkio is not None else None
    if mkio is None or route is None:
        return None
    project = mkio.find(route)
    return _Target(
        "mkio", route.kind, project.key if project is not None else None,
        handle=lambda: mkio.handle(request, route),
        error=lambda status, message: mkio_error(status, message),
        throttled=mkio.throttled,
        headers=lambda: mkio.headers(request),
    )


def _aad(pipeline: Pipeline, request: Request) -> _Target | None:
    aad = pipeline.aad
    route = parse_aad_path(request.path) if aad is not None else None
    if aad is None or route is None:
        return None
    return _Target(
        "aad", route.kind, None,
        handle=lambda: aad.handle(request, route),
        error=lambda status, message: aad.error(request, status, message),
        throttled=lambda _: aad.error(request, 503, "Throttled."),
        headers=lambda: aad.headers(request),
        faults=False,
    )


def _arm(pipeline: Pipeline, request: Request) -> _Target | None:
    """AMS v3 through ARM, logged as "rms" when the path names an RMS account."""
    v3 = pipeline.v3
    route = parse_arm_path(request.path) if v3 is not None else None
    if v3 is None or route is None:
        return None
    account = v3.find(route)
    rms_account = account is not None and account.rms_key is not None
    return _Target(
        "rms" if rms_account else "v3", route.kind,
        account.key if account is not None else None,
        handle=lambda: v3.handle(request, route),
        error=lambda status, message: arm_error(status, message),
        throttled=v3.throttled,
        headers=lambda: v3.headers(request, route),
    )


def _v2(pipeline: Pipeline, request: Request) -> _Target:
    route = parse_route(request.path)
    return _Target(
        "v2", route.kind, route.account,
        handle=lambda: pipeline.service.handle(request, route),
        error=error_response,
        throttled=_v2_throttled,
        headers=lambda: _v2_headers(request),
    )


#: The APIs sharing the server, in routing order: the first that recognizes a
#: request's path answers it; v2 takes whatever is left.
ROUTING: tuple[Callable[[Pipeline, Request], _Target | None], ...] = (
    _rms_sign_in, _mkio, _aad, _arm, _v2)


class Pipeline:
    def __init__(
        self,
        service: V2Service,
        faults: FaultInjector,
        requests: RequestLog,
        clock: Clock,
        v3: V3Service | None = None,
        aad: AadService | None = None,
        rms: RmsService | None = None,
        mkio: MkioService | None = None,
    ) -> None:
        self.service = service
        self.faults = faults
        self.requests = requests
        self.clock = clock
        self.v3 = v3
        self.aad = aad
        self.rms = rms
        self.mkio = mkio

    def _target(self, request: Request) -> _Target:
        targets = (route(self, request) for route in ROUTING)
        return next(target for target in targets if target is not None)

    def __call__(self, request: Request) -> Response:
        target = self._target(request)
        decision = self.faults.decide(target.account) if target.faults else _NO_FAULTS
        try:
            response = self._answer(target, decision)
        except Exception:  # a simulator bug must still give the client an answer
            log.exception("simulator failed on %s %s", request.method, request.target)
            response = target.error(500, "Internal error in the simulator.")
        if not response.reset:
            response.headers.extend(target.headers())
        self.requests.record(
            SimRequest(
                method=request.method,
                path=request.target,
                account=target.account,
                kind=target.kind,
                status=0 if response.reset else response.status,
                headers=dict(request.headers),
                decoded_query=dict(decode_query(request.query, errors="replace")),
                time=self.clock(),
                api=target.api,
            )
        )
        return response

    def _answer(self, target: _Target, decision: FaultDecision) -> Response:
        if self.faults.down:
            return target.error(500, "The service is unavailable (simulated outage).")
        if decision.latency > 0:
            time.sleep(decision.latency)  # real time: latency is about the wire, not the clock
        if decision.reset:
            return Response(0, reset=True)
        if decision.throttle:
            return target.throttled(decision.settings.retry_after)
        if decision.error:
            return target.error(decision.settings.error_status, "Simulated server error.")
        response = target.handle()
        if decision.malformed:
            # A complete HTTP answer whose JSON stops half-way.
            truncated = response.body[: len(response.body) // 2] or b"{"
            return Response(200, truncated, [h for h in response.headers if h[0] != "Location"])
        return response

