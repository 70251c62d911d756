"""ams-job-exporter: Prometheus exporter for Azure Media Services encoding jobs."""

__version__ = "0.1.0"
