"""Logging set-up: text or JSON lines on stderr."""

from __future__ import annotations

import json
import logging
import sys

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
          "warning": logging.WARNING, "error": logging.ERROR}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S%z"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(LEVELS[level])
    # azure-identity and urllib3 are chatty at INFO; their warnings still come through,
    # except azure-identity's own sign-in failure warning: the exporter logs one line
    # per account for it, naming the account and the method.
    for noisy in ("azure", "urllib3", "msal"):
        logging.getLogger(noisy).setLevel(max(LEVELS[level], logging.WARNING))
    logging.getLogger("azure.identity").setLevel(max(LEVELS[level], logging.ERROR))
