"""TLS for the HTTP endpoints: a server-side SSL context from validated settings,
and the handshake of one connection, with a time limit, in that connection's thread.

Knows nothing about the web config file's format: the settings arrive as a
`TLSSettings` value, and problems are `TLSError`s naming the setting (never a file's
contents), which the file's loader turns into its own error.
"""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

#: A client gets this long to complete the handshake; a silent one is dropped.
HANDSHAKE_TIMEOUT = 10.0

#: client_auth_type -> (verify mode, client_ca_file required). Python's ssl cannot ask
#: for a certificate without verifying it: RequestClientCert (whose certificate would
#: go unused anyway) asks for none, and RequireAnyClientCert verifies it.
CLIENT_AUTH_TYPES: dict[str, tuple[ssl.VerifyMode, bool]] = {
    "NoClientCert": (ssl.CERT_NONE, False),
    "RequestClientCert": (ssl.CERT_NONE, False),
    "RequireAnyClientCert": (ssl.CERT_REQUIRED, True),
    "VerifyClientCertIfGiven": (ssl.CERT_OPTIONAL, True),
    "RequireAndVerifyClientCert": (ssl.CERT_REQUIRED, True),
}
TLS_VERSIONS = {"TLS10": ssl.TLSVersion.TLSv1, "TLS11": ssl.TLSVersion.TLSv1_1,
                "TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
#: Go's cipher suite names -> OpenSSL's. TLS 1.3 suites are not configurable (in Go
#: either), so they are accepted and left out.
GO_CIPHER_SUITES: dict[str, str | None] = {
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_AES_128_GCM_SHA256": None,
    "TLS_AES_256_GCM_SHA384": None,
    "TLS_CHACHA20_POLY1305_SHA256": None,
}


class TLSError(ValueError):
    """A setting that cannot be used: `key` names it, `problem` says why."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


@dataclass(frozen=True)
class TLSSettings:
    """Validated server TLS settings; names are exporter-toolkit's, paths absolute."""

    cert_file: str
    key_file: str
    client_auth_type: str = "NoClientCert"
    client_ca_file: str | None = None
    min_version: str = "TLS12"
    max_version: str = "TLS13"
    cipher_suites: tuple[str, ...] = ()
    prefer_server_cipher_suites: bool = True

    def files(self) -> tuple[str, ...]:
        """The files the context is built from (watched for rotation)."""
        return tuple(p for p in (self.cert_file, self.key_file, self.client_ca_file) if p)

    @property
    def verify_mode(self) -> ssl.VerifyMode:
        return CLIENT_AUTH_TYPES[self.client_auth_type][0]

    @property
    def minimum_version(self) -> ssl.TLSVersion:
        return TLS_VERSIONS[self.min_version]


def build_ssl_context(tls: TLSSettings) -> ssl.SSLContext:
    """A server-side context for the settings; TLSError names the key, never contents."""
    for key in ("cert_file", "key_file", "client_ca_file"):
        name = getattr(tls, key)
        if name:
            try:
                with open(name, "rb"):
                    pass
            except OSError as exc:
                raise TLSError(key, f"cannot read {name}: {exc.strerror}") from None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = TLS_VERSIONS[tls.min_version]
    context.maximum_version = TLS_VERSIONS[tls.max_version]
    try:
        context.load_cert_chain(tls.cert_file, tls.key_file, password=_no_password)
    except _EncryptedKey:
        raise TLSError("key_file", "encrypted keys are not supported") from None
    except ssl.SSLError as exc:
        raise TLSError("cert_file", "cannot load it with key_file "
                                    f"({exc.reason or 'invalid PEM'})") from None
    if tls.client_ca_file and tls.verify_mode != ssl.CERT_NONE:
        try:
            context.load_verify_locations(cafile=tls.client_ca_file)
        except ssl.SSLError as exc:
            raise TLSError("client_ca_file",
                           f"cannot load it ({exc.reason or 'invalid PEM'})") from None
    context.verify_mode = tls.verify_mode
    openssl_names = [GO_CIPHER_SUITES[name] for name in tls.cipher_suites]
    if any(openssl_names):
        try:
            context.set_ciphers(":".join(n for n in openssl_names if n))
        except ssl.SSLError:
            raise TLSError("cipher_suites", "none of them is available") from None
    if tls.prefer_server_cipher_suites:
        context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    else:
        context.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    context.set_alpn_protocols(["http/1.1"])
    return context


class _EncryptedKey(Exception):
    pass


def _no_password() -> bytes:
    """Called by OpenSSL only for an encrypted key: fail instead of prompting on a tty."""
    raise _EncryptedKey


@contextmanager
def server_side(context: ssl.SSLContext, sock: socket.socket, client_address: Any,
                timeout: float = HANDSHAKE_TIMEOUT) -> Iterator[ssl.SSLSocket | None]:
    """`sock` wrapped in TLS, the handshake done here with a `timeout`, so a slow or
    silent client holds up only its own thread. None if the handshake failed (logged
    at DEBUG: a port scan is not an error). The connection is shut down on exit."""
    previous_timeout = sock.gettimeout()
    sock.settimeout(timeout)
    try:
        tls = context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
    except OSError as exc:
        log.debug("TLS set-up for %s failed: %s", peer(client_address), exc)
        sock.close()
        yield None
        return
    try:
        tls.do_handshake()
    except OSError as exc:  # ssl.SSLError, timeouts and resets alike
        log.debug("TLS handshake with %s failed: %s", peer(client_address), exc)
        tls.close()
        yield None
        return
    tls.settimeout(previous_timeout)
    try:
        yield tls
    except OSError as exc:  # a TLS alert or reset mid-request: not worth a traceback
        log.debug("TLS connection with %s ended: %s", peer(client_address), exc)
    finally:
        with suppress(OSError):
            tls.shutdown(socket.SHUT_WR)
        tls.close()


def peer(client_address: Any) -> str:
    """The client's address for a log line (the host only)."""
    return str(client_address[0]) if isinstance(client_address, tuple) else str(client_address)
