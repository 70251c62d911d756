"""AMS simulator: a real HTTP(S) server playing Azure Media Services for tests and demos.

It serves the v2 (OData) API, the v3 API through Azure Resource Manager, and an Azure AD
token endpoint; see Simulator for the interface.
"""

from exporter.simulator.clock import ManualClock, SystemClock
from exporter.simulator.jobs import SimJob
from exporter.simulator.request_log import SimRequest
from exporter.simulator.simulator import ArmAccount, Simulator

__all__ = ["ArmAccount", "ManualClock", "SimJob", "SimRequest", "Simulator", "SystemClock"]
