"""The names of the metric families the exporter exports, as they appear in the
exposition: what `metrics.exclude` may name. A leaf module, so the configuration
can check names without importing the metrics code."""

from __future__ import annotations

#: Per-job families, rendered once per refresh (exporter.metrics.per_job).
PER_JOB_FAMILIES = (
    "ams_job_state",
    "ams_job_state_code",
    "ams_job_progress_ratio",
    "ams_job_priority",
    "ams_job_created_timestamp_seconds",
    "ams_job_start_timestamp_seconds",
    "ams_job_end_timestamp_seconds",
    "ams_job_last_modified_timestamp_seconds",
    "ams_job_info",
    "ams_job_error_info",
    "ams_job_running_duration_seconds",
    "ams_job_age_seconds",
)
#: Aggregates, distributions and health, built per scrape (exporter.metrics.aggregates).
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
)
EXCLUDABLE = frozenset(PER_JOB_FAMILIES + SUMMARY_FAMILIES)
