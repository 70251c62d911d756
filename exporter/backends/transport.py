"""HTTP plumbing shared by the v2 and v3 clients: token, budget, timing, errors."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import requests
import urllib3

from exporter import __version__
from exporter.backends.auth.tokens import TokenProvider
from exporter.backends.ratelimit import RateLimiter

#: The default cap on one response body (config `max_response_bytes`): a v2 page of
#: 1,000 jobs in verbose JSON is about 2 MB, a v3 page of 500 jobs about 1 MB.
DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024
READ_CHUNK_BYTES = 64 * 1024
#: 429 is ARM's throttling answer, 503 ("Server is busy") the v2 API's.
THROTTLING_STATUSES = frozenset({429, 503})
#: Called after every HTTP exchange: (status code or "error", seconds taken).
RequestObserver = Callable[[str, float], None]


class ApiError(RuntimeError):
    """The API answered with an error or with something we cannot read."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ThrottledError(ApiError):
    """429 (ARM) or 503 ("Server is busy", v2); `retry_after` in seconds when given."""

    def __init__(self, message: str, status: int, retry_after: float | None) -> None:
        super().__init__(message, status)
        self.retry_after = retry_after


class Transport:
    """Sends GETs with a bearer token within the account's request budget, reports
    each exchange to the observer, and never follows redirects by itself.

    After a throttling answer with Retry-After, nothing is sent to the account
    until that time has passed: requests fail fast with ThrottledError instead.
    """

    def __init__(
        self,
        session: requests.Session,
        tokens: TokenProvider,
        *,
        timeout: float = 20.0,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        limiter: RateLimiter | None = None,
        observe: RequestObserver | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.session = session
        self.tokens = tokens
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        self.limiter = limiter
        self.observe = observe
        self.clock = clock
        self.blocked_until = 0.0

    def get(self, url: str, headers: dict[str, str]) -> requests.Response:
        wait = self.blocked_until - self.clock()
        if wait > 0:
            raise ThrottledError(f"throttled by the API: not sending for another {wait:.1f}s",
                                 429, wait)
        headers = {
            "User-Agent": f"ams-job-exporter/{__version__}",
            "client-request-id": str(uuid.uuid4()),
            **headers,
        }
        token = self.tokens.token()
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if self.limiter is not None:
            self.limiter.acquire()
        started = time.perf_counter()
        try:
            response = self.session.get(url, headers=headers, timeout=self.timeout,
                                        allow_redirects=False, stream=True)
            try:
                response._content = read_body(response, self.max_response_bytes,
                                              started + self.timeout)
                response._content_consumed = True  # type: ignore[attr-defined]  # reusable
            finally:
                response.close()
        except requests.RequestException as exc:
            self._observe("error", time.perf_counter() - started)
            raise ApiError(f"request failed: {type(exc).__name__}") from None
        except ApiError:
            self._observe("error", time.perf_counter() - started)
            raise
        self._observe(str(response.status_code), time.perf_counter() - started)
        if response.status_code in THROTTLING_STATUSES:
            retry_after = _retry_after(response)
            if retry_after:
                self.blocked_until = max(self.blocked_until, self.clock() + retry_after)
        return response

    def _observe(self, code: str, seconds: float) -> None:
        if self.observe is not None:
            self.observe(code, seconds)


def read_body(response: requests.Response, max_bytes: int, deadline: float) -> bytes:
    """The whole body, decompressed, or ApiError when it is larger than `max_bytes`
    (before or after decompression: a gzip bomb stops at the cap) or not complete
    by `deadline` (time.perf_counter): each read returns what one receive brought,
    so a body dripping a byte at a time is cut off at the deadline."""
    raw = response.raw
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise ApiError(f"response of {int(declared)} bytes is over the cap of {max_bytes}")
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            chunk = raw.read1(READ_CHUNK_BYTES, decode_content=True)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes or raw.tell() > max_bytes:
                raise ApiError(f"response is over the cap of {max_bytes} bytes")
            if time.perf_counter() > deadline:
                raise ApiError("response not complete within the request timeout")
            chunks.append(chunk)
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise ApiError(f"reading the response failed: {type(exc).__name__}") from None
    return b"".join(chunks)


def json_body(response: requests.Response) -> Any:
    """The decoded body of a 200 answer; any other answer becomes its ApiError."""
    if response.status_code != 200:
        raise error_from(response)
    try:
        return response.json()
    except ValueError:
        raise ApiError("response body is not valid JSON", 200) from None


def error_from(response: requests.Response) -> ApiError:
    """An ApiError from an error answer, with the code and message of the OData
    (`odata.error`) or ARM (`error`) error body when there is one."""
    status = response.status_code
    detail = _error_text(response)
    message = f"HTTP {status}" + (f": {detail}" if detail else "")
    if status in THROTTLING_STATUSES:
        return ThrottledError(message, status, _retry_after(response))
    return ApiError(message, status)


def _error_text(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    error = (body.get("odata.error") or body.get("error")) if isinstance(body, dict) else None
    if isinstance(error, str):  # MK.IO's older answers: "error": "text"
        error = {"message": error}
    if not isinstance(error, dict):
        return ""
    # OData: message.value; ARM: message; MK.IO: detail (and a request "ref" beside it)
    message = error.get("message") or error.get("detail")
    if isinstance(message, dict):
        message = message.get("value")
    code = error.get("code")
    ref = body.get("ref") if isinstance(body, dict) else None
    text = " ".join(str(part) for part in (code, message) if part)
    if isinstance(ref, str) and ref:
        text += f" (ref {ref[:64]})"
    return text.splitlines()[0][:200] if text else ""


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
