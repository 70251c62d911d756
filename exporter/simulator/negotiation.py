"""Choosing the response format from the Accept header."""

from __future__ import annotations

from enum import Enum


class Format(Enum):
    LIGHT = "light"  # JSON light, minimal metadata
    VERBOSE = "verbose"  # application/json;odata=verbose


def _quality(params: dict[str, str]) -> float:
    try:
        return float(params.get("q", "1"))
    except ValueError:
        return 0.0


def choose_format(accept: str | None) -> Format | None:
    """The format to answer in, or None when nothing acceptable is on offer.

    Missing Accept, `*/*`, `application/*` and `application/json` (any odata= value other
    than verbose) give JSON light. Atom/XML alone is not served (the caller answers 415,
    as WCF Data Services did for a media type it could not produce).
    """
    if accept is None or not accept.strip():
        return Format.LIGHT
    offers: list[tuple[float, Format]] = []
    for part in accept.split(","):
        media, *raw_params = (p.strip() for p in part.split(";"))
        params = {}
        for raw in raw_params:
            name, _, value = raw.partition("=")
            params[name.strip().lower()] = value.strip().lower()
        media = media.lower()
        if media == "application/json" and params.get("odata") == "verbose":
            offer = Format.VERBOSE
        elif media in ("application/json", "application/*", "*/*"):
            offer = Format.LIGHT
        else:
            continue
        quality = _quality(params)
        if quality > 0:
            offers.append((quality, offer))
    if not offers:
        return None
    best = max(quality for quality, _ in offers)
    return next(offer for quality, offer in offers if quality == best)
