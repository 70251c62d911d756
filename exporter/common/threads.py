"""A shorter GIL switch interval, for a server whose threads send large bodies
while others compute.

A thread that sends a scrape body (38 MB of gzip at 100,000 jobs) gives up the GIL
for every send() and needs it back after each one. While a refresh or a render
keeps another thread busy, getting it back takes up to the switch interval (5 ms by
default): hundreds of sends make a scrape of 50 ms take 600 ms and more. At 0.1 ms,
measured at 100,000 jobs with scrapes every 0.25 s and refreshes every 5 s, the
slowest of 40 scrapes went from 684 ms to 152–224 ms; the busy threads lose a few
per cent to the extra switches.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

SWITCH_INTERVAL = 0.0001
#: Set to a number of seconds to choose another interval (or the default, 0.005).
ENVIRONMENT = "AMS_EXPORTER_GIL_SWITCH_INTERVAL"


def shorten_gil_switch_interval(environ: Mapping[str, str] | None = None) -> float:
    """Set the interval (the environment's choice if it is a positive number);
    returns the interval now in force."""
    chosen = (os.environ if environ is None else environ).get(ENVIRONMENT, "")
    try:
        interval = float(chosen) if chosen else SWITCH_INTERVAL
    except ValueError:
        interval = SWITCH_INTERVAL
    if not 0 < interval <= 1:
        interval = SWITCH_INTERVAL
    sys.setswitchinterval(interval)
    return sys.getswitchinterval()
