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
        path = request.path
        aad, v3, rms, mkio = self.aad, self.v3, self.rms, self.mkio
        if rms is not None and rms.is_token_path(path):
            return _Target(
                "rms", "token", None,
                handle=lambda: rms.handle(request),
                error=lambda status, message: problem(status, message),
                throttled=lambda _: problem(503, "Throttled."),
                headers=list,
                faults=False,
            )
        if mkio is not None and (mk := parse_mkio_path(path)) is not None:
            project = mkio.find(mk)
            return _Target(
                "mkio", mk.kind, project.key if project is not None else None,
                handle=lambda: mkio.handle(request, mk),
                error=lambda status, message: mkio_error(status, message),
                throttled=mkio.throttled,
                headers=lambda: mkio.headers(request),
            )
        if aad is not None and (route := parse_aad_path(path)) is not None:
            return _Target(
                "aad", route.kind, None,
                handle=lambda: aad.handle(request, route),
                error=lambda status, message: aad.error(request, status, message),
                throttled=lambda _: aad.error(request, 503, "Throttled."),
                headers=lambda: aad.headers(request),
                faults=False,
            )
        if v3 is not None and (arm := parse_arm_path(path)) is not None:
            account = v3.find(arm)
            rms_account = account is not None and account.rms_key is not None
            return _Target(
                "rms" if rms_account else "v3", arm.kind,
                account.key if account is not None else None,
                handle=lambda: v3.handle(request, arm),
                error=lambda status, message: arm_error(status, message),
                throttled=v3.throttled,
                headers=lambda: v3.headers(request, arm),
            )
        v2_route = parse_route(path)
        return _Target(
            "v2", v2_route.kind, v2_route.account,
            handle=lambda: self.service.handle(request, v2_route),
            error=error_response,
            throttled=_v2_throttled,
            headers=lambda: _v2_headers(request),
        )

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

