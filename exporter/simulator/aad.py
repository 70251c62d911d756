"""Azure AD (Microsoft identity platform v2.0), as far as the client-credentials flow needs.

MSAL with instance discovery disabled makes two calls: the tenant's OpenID configuration
(`GET /{tenant}/v2.0/.well-known/openid-configuration`) and the token endpoint it names
(`POST /{tenant}/oauth2/v2.0/token`). Both must be https for MSAL, so clients need the
simulator started with TLS. Errors follow Azure AD's shape and AADSTS codes:

- unknown tenant: 400 `invalid_tenant` (discovery) / `invalid_request` AADSTS90002 (token);
- unknown client: 400 `unauthorized_client` AADSTS700016 (what Azure AD answers; the
  client is told before any secret is compared);
- missing or wrong secret: 401 `invalid_client` AADSTS7000216 / AADSTS7000215;
- grant other than client_credentials: 400 `unsupported_grant_type` AADSTS70003;
- scope not `<resource>/.default`: 400 `invalid_scope`; unknown resource: 400
  `invalid_resource` AADSTS500011.

The keys route (`GET /{tenant}/discovery/v2.0/keys`, the configuration's `jwks_uri`)
publishes the RSA key that signs Event Grid delivery tokens (signing.py); the
client-credential tokens issued here stay unsigned. A tenant is known once a client
is added to it or an Event Grid token is issued for it.

No answer ever contains the submitted secret, and request bodies are not logged.
"""

from __future__ import annotations

import hmac
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import parse_qsl, unquote

from exporter.simulator.clock import Clock
from exporter.simulator.responses import Request, Response, json_response
from exporter.simulator.signing import SigningKeys
from exporter.simulator.tokens import TokenRegistry

DISCOVERY = "discovery"
TOKEN = "token"
KEYS = "keys"

DEFAULT_TOKEN_LIFETIME = 3599
# Resources a token can be asked for: ARM (v3) and the v2 REST API.
RESOURCES = ("https://management.azure.com", "https://rest.media.azure.net")
_NO_STORE = [("Cache-Control", "no-store, no-cache"), ("Pragma", "no-cache")]


@dataclass(frozen=True)
class AadRoute:
    kind: str  # discovery, token or keys
    tenant: str


def parse_aad_path(path: str) -> AadRoute | None:
    """The Azure AD routes; None for any other path."""
    segments = path.split("/")[1:]
    tail = [s.lower() for s in segments[1:]]
    if len(segments) < 2 or not segments[0]:
        return None
    try:
        tenant = unquote(segments[0], errors="strict")
    except UnicodeDecodeError:
        return None
    if tail == ["v2.0", ".well-known", "openid-configuration"]:
        return AadRoute(DISCOVERY, tenant)
    if tail == ["oauth2", "v2.0", "token"]:
        return AadRoute(TOKEN, tenant)
    if tail == ["discovery", "v2.0", "keys"]:
        return AadRoute(KEYS, tenant)
    return None


class AadService:
    def __init__(self, clock: Clock, tokens: TokenRegistry,
                 signing: SigningKeys | None = None) -> None:
        self.clock = clock
        self.tokens = tokens
        self.signing = signing if signing is not None else SigningKeys()
        self.token_lifetime: float = DEFAULT_TOKEN_LIFETIME
        self._lock = threading.Lock()
        self._tenants: dict[str, str] = {}  # lower-case -> as registered
        self._secrets: dict[tuple[str, str], str] = {}  # (tenant, client id), lower-case

    def add_client(self, tenant_id: str, client_id: str, client_secret: str) -> None:
        if not tenant_id or "/" in tenant_id or not client_id or not client_secret:
            raise ValueError("tenant_id, client_id and client_secret must be non-empty")
        with self._lock:
            self._tenants.setdefault(tenant_id.lower(), tenant_id)
            self._secrets[(tenant_id.lower(), client_id.lower())] = client_secret

    def add_tenant(self, tenant_id: str) -> None:
        """Make a tenant known (its discovery and keys routes answer) without a client."""
        if not tenant_id or "/" in tenant_id:
            raise ValueError("tenant_id must be non-empty, without '/'")
        with self._lock:
            self._tenants.setdefault(tenant_id.lower(), tenant_id)

    def tenant(self, name: str) -> str | None:
        with self._lock:
            return self._tenants.get(name.lower())

    # ------------------------------------------------------------ answers

    def handle(self, request: Request, route: AadRoute) -> Response:
        tenant = self.tenant(route.tenant)
        if route.kind == TOKEN:
            return self._token(request, route.tenant, tenant)
        if request.method not in ("GET", "HEAD"):
            return self.failure(request, 405, "invalid_request", 900561,
                                "The endpoint only accepts GET requests.")
        if tenant is None:
            return self.failure(request, 400, "invalid_tenant", 90002,
                                _tenant_not_found(route.tenant))
        if route.kind == KEYS:
            # The key signing Event Grid delivery tokens (signing.py); the client-credential
            # tokens are unsigned and need none.
            return json_response(200, self.signing.jwks())
        return json_response(200, self._configuration(request.origin, tenant))

    @staticmethod
    def _configuration(origin: str, tenant: str) -> dict[str, object]:
        base = f"{origin}/{tenant}"
        return {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post"],
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base}/v2.0",
            "request_uri_parameter_supported": False,
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "grant_types_supported": ["client_credentials"],
        }

    def _token(self, request: Request, named: str, tenant: str | None) -> Response:
        if request.method != "POST":
            return self.failure(request, 400, "invalid_request", 900561,
                                "The endpoint only accepts POST, OPTIONS requests.")
        if tenant is None:
            return self.failure(request, 400, "invalid_request", 90002, _tenant_not_found(named))
        try:
            form = dict(parse_qsl(request.body.decode("utf-8"), keep_blank_values=True,
                                  strict_parsing=False))
        except UnicodeDecodeError:
            return self.failure(request, 400, "invalid_request", 900144,
                                "The request body is not valid form data.")
        for name in ("grant_type", "client_id"):
            if not form.get(name):
                return self.failure(request, 400, "invalid_request", 900144,
                                    f"The request body must contain the following parameter: "
                                    f"'{name}'.")
        grant, client_id = form["grant_type"], form["client_id"]
        if grant != "client_credentials":
            return self.failure(request, 400, "unsupported_grant_type", 70003,
                                f"The app requested an unsupported grant type '{grant}'.")
        problem = self._authenticate(request, tenant, client_id, form.get("client_secret"))
        if problem is not None:
            return problem
        scope = form.get("scope", "")
        if not scope:
            return self.failure(request, 400, "invalid_request", 900144,
                                "The request body must contain the following parameter: "
                                "'scope'.")
        resource, suffix = scope.rpartition("/")[::2]
        if " " in scope.strip() or suffix != ".default" or not resource:
            return self.failure(request, 400, "invalid_scope", 1002012,
                                f"The provided value for scope {scope} is not valid. Client "
                                "credential flows must have a scope value with /.default "
                                "suffixed to the resource identifier (application ID URI).")
        audience = resource.rstrip("/")
        if audience not in RESOURCES:
            return self.failure(request, 400, "invalid_resource", 500011,
                                f"The resource principal named {resource} was not found in "
                                f"the tenant named {tenant}.")
        lifetime = self.token_lifetime
        token = self.tokens.issue(tenant, client_id, audience, self.clock(), lifetime)
        return json_response(200, {
            "token_type": "Bearer",
            "expires_in": int(lifetime),
            "ext_expires_in": int(lifetime),
            "access_token": token.value,
        }, _NO_STORE)

    def _authenticate(
        self, request: Request, tenant: str, client_id: str, secret: str | None
    ) -> Response | None:
        with self._lock:
            expected = self._secrets.get((tenant.lower(), client_id.lower()))
        if expected is None:
            return self.failure(request, 400, "unauthorized_client", 700016,
                                f"Application with identifier '{client_id}' was not found in "
                                f"the directory '{tenant}'.")
        if not secret:
            return self.failure(request, 401, "invalid_client", 7000216,
                                "'client_assertion', 'client_secret' or 'request' is required "
                                "for the 'client_credentials' grant type.")
        if not hmac.compare_digest(secret.encode("utf-8"), expected.encode("utf-8")):
            return self.failure(request, 401, "invalid_client", 7000215,
                                "Invalid client secret provided. Ensure the secret being sent "
                                "in the request is the client secret value, not the client "
                                f"secret ID, for a secret added to app '{client_id}'.")
        return None

    def failure(
        self, request: Request, status: int, error: str, code: int, text: str
    ) -> Response:
        """An Azure AD error body: error, error_description (AADSTS...), codes and ids."""
        trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
        stamp = datetime.fromtimestamp(self.clock(), timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
        description = (f"AADSTS{code}: {text} Trace ID: {trace} Correlation ID: {correlation} "
                       f"Timestamp: {stamp}")
        return json_response(status, {
            "error": error,
            "error_description": description,
            "error_codes": [code],
            "timestamp": stamp,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": f"{request.origin}/error?code={code}",
        }, _NO_STORE)

    def error(self, request: Request, status: int, message: str) -> Response:
        """An outage or simulator failure, in Azure AD's shape."""
        return self.failure(request, status, "temporarily_unavailable" if status == 503
                            else "server_error", 90033 if status == 503 else 50000, message)

    @staticmethod
    def headers(request: Request) -> list[tuple[str, str]]:
        headers = [("x-ms-request-id", str(uuid.uuid4()))]
        client_id = request.header("client-request-id")
        if client_id is not None:
            headers.append(("client-request-id", client_id))
        return headers


def _tenant_not_found(tenant: str) -> str:
    return (f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID "
            "and are signing into the correct cloud.")
