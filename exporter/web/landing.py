"""The landing page (`/`): version, each account's last refresh, links."""

from __future__ import annotations

import html
from datetime import datetime, timezone

from exporter import __version__
from exporter.web.served import Served


def landing_page(exporter: Served) -> str:
    """Version, each account's last refresh result and time, and links. Only names,
    states and error summaries are shown: never endpoints' credentials or tokens."""
    rows = []
    for refresher in exporter.refreshers:
        status = refresher.status
        if status.attempts == 0:
            result = "pending"
        else:
            result = "ok" if status.up else f"failed: {status.last_error}"
        if status.refreshing:
            result += " (refreshing; serving the previous data)"
        account = refresher.account
        cells = (html.escape(refresher.name), html.escape(account.api),
                 html.escape(account.auth.method), html.escape(result),
                 _when(status.last_attempt), _when(status.last_success))
        rows.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>AMS Job Exporter</title></head>
<body>
<h1>AMS Job Exporter</h1>
<p>Version {html.escape(__version__)}</p>
<table border="1" cellpadding="4">
<tr><th>account</th><th>api</th><th>sign-in</th><th>last refresh</th><th>attempted</th>
<th>last success</th></tr>
{''.join(rows)}
</table>
<ul>
<li><a href="metrics">/metrics</a></li>
<li><a href="healthz">/healthz</a></li>
<li><a href="readyz">/readyz</a></li>
</ul>
</body></html>
"""


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "never"
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
