"""AMS simulator: a real HTTP(S) server playing Azure Media Services for tests and demos.

It serves the v2 (OData) API, the v3 API through Azure Resource Manager, an Azure AD
token endpoint, and the AMS successors Ravnur Media Services (RMS) and MediaKind MK.IO,
and sends their job events as Event Grid and MK.IO webhooks do (Simulator.start_events);
see Simulator for the interface and docs/simulator.md for the choices made.
"""

from exporter.simulator.clock import ManualClock, SystemClock
from exporter.simulator.event_sender import EventFeed
from exporter.simulator.jobs import SimJob
from exporter.simulator.request_log import SimRequest
from exporter.simulator.simulator import ArmAccount, Simulator

__all__ = ["ArmAccount", "EventFeed", "ManualClock", "SimJob", "SimRequest", "Simulator",
           "SystemClock"]
