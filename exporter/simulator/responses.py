"""Requests and responses as the simulator's HTTP layer passes them around."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from exporter.simulator.odata_format import LIGHT, error_body

# Error codes we put in OData error bodies, by status. AMS's own codes are unconfirmed.
ERROR_CODES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "ResourceNotFound",
    405: "MethodNotAllowed",
    415: "UnsupportedMediaType",
    429: "TooManyRequests",
    500: "InternalError",
    502: "BadGateway",
    503: "ServerBusy",
    504: "GatewayTimeout",
}


@dataclass(frozen=True)
class Request:
    method: str
    target: str  # raw path and query as sent
    headers: dict[str, str]  # as sent (original case)
    origin: str  # scheme://host[:port] the client addressed, for absolute URLs
    body: bytes = b""

    @property
    def path(self) -> str:
        return self.target.partition("?")[0]

    @property
    def query(self) -> str:
        return self.target.partition("?")[2]

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    reset: bool = False  # drop the connection instead of answering


def error_response(
    status: int, message: str, headers: Iterable[tuple[str, str]] = ()
) -> Response:
    """An OData v3 JSON error body; the code comes from ERROR_CODES."""
    code = ERROR_CODES.get(status, "Error")
    return Response(
        status, error_body(code, message), [("Content-Type", LIGHT), *headers]
    )


JSON = "application/json; charset=utf-8"


def json_response(
    status: int, payload: object, headers: Iterable[tuple[str, str]] = ()
) -> Response:
    """Compact UTF-8 JSON, as ARM and Azure AD send it."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return Response(status, body, [("Content-Type", JSON), *headers])
