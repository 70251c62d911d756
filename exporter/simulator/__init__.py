"""AMS simulator: a real HTTP server playing Azure Media Services for tests and demos.

Only the v2 (OData) API exists so far; see Simulator for the interface.
"""

from exporter.simulator.clock import ManualClock, SystemClock
from exporter.simulator.jobs import SimJob
from exporter.simulator.request_log import SimRequest
from exporter.simulator.simulator import Simulator

__all__ = ["ManualClock", "SimJob", "SimRequest", "Simulator", "SystemClock"]
