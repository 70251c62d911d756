"""The names of the metric families the exporter exports, as they appear in the
exposition (what `metrics.exclude` may name), and the label names they use (what
`metrics.correlation_labels` may not name)."""

from __future__ import annotations

from exporter.metrics.job_families import JOB_FAMILIES

#: The other families: built per scrape by prometheus_client collectors (aggregates,
#: distributions and health: exporter.metrics.aggregates; push events, the web
#: config and shards: their own). The per-job ones are in job_families.JOB_FAMILIES.
SUMMARY_FAMILIES = (
    "ams_jobs",
    "ams_job_oldest_age_seconds",
    "ams_job_duration_seconds",
    "ams_job_queue_duration_seconds",
    "ams_up",
    "ams_stale",
    "ams_last_refresh_success_timestamp_seconds",
    "ams_refresh_duration_seconds",
    "ams_job_transitions_total",
    "ams_jobs_skipped_total",
    "ams_api_requests_total",
    "ams_api_throttled_total",
    "ams_api_request_duration_seconds",
    "ams_exporter_build_info",
    "ams_config_last_reload_successful",
    "ams_config_last_reload_success_timestamp_seconds",
    "ams_web_config_last_reload_successful",
    "ams_events_received_total",
    "ams_events_rejected_total",
    "ams_event_delay_seconds",
    "ams_exporter_shard_ordinal",
    "ams_exporter_total_shards",
    "ams_correlation_label_overflow_total",
)
EXCLUDABLE = frozenset(
    (*(family.name for family in JOB_FAMILIES if family.excludable), *SUMMARY_FAMILIES))

#: The labels of the other families (tests/app/test_correlation_labels.py checks
#: them against expositions of every family).
SUMMARY_LABELS = ("account", "transform", "state", "to_state", "reason", "code", "type",
                  "version", "python_version", "label")
#: Labels no correlation label may take: the exporter's own, those Prometheus gives
#: meaning to (`le`, `quantile`) and those it attaches to every target (`job`,
#: `instance`).
OWN_LABELS = frozenset((*(label for family in JOB_FAMILIES for label in family.labels),
                        *SUMMARY_LABELS, "le", "quantile", "job", "instance"))
