"""What a reload of the web config may change: anything but the protection.

A file rewritten while the exporter runs (emptied by a tool, half-written, or cut
down by mistake) must not turn TLS or basic auth off on a live endpoint. Turning
protection down is still possible, deliberately: by restarting with the new file.
Rotating certificates and CAs, changing users and passwords, cipher suites and
headers, and anything that tightens, apply without a restart.
"""

from __future__ import annotations

from exporter.web.web_config import WebConfig


def weakening(old: WebConfig, new: WebConfig) -> str | None:
    """Why `new` would protect the endpoints less than `old`; None if it does not.
    The reason names settings only, never their values."""
    if old.tls is not None:
        if new.tls is None:
            return "it turns TLS off (tls_server_config removed)"
        if new.tls.verify_mode < old.tls.verify_mode:
            return ("it verifies client certificates less "
                    f"(client_auth_type {old.tls.client_auth_type} -> "
                    f"{new.tls.client_auth_type})")
        if new.tls.minimum_version < old.tls.minimum_version:
            return (f"it lowers the minimum TLS version ({old.tls.min_version} -> "
                    f"{new.tls.min_version})")
    if old.users:
        if not new.users:
            return "it turns basic auth off (basic_auth_users removed or empty)"
        opened = new.unauthenticated_paths - old.unauthenticated_paths
        if opened:
            return ("it opens paths that needed credentials (unauthenticated_paths: "
                    f"{', '.join(sorted(opened))})")
    return None
