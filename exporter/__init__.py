"""ams-job-exporter: a Prometheus exporter for media encoding jobs on MediaKind MK.IO,
Ravnur Media Services and Azure Media Services (v2, v3)."""

__version__ = "0.1.0"
