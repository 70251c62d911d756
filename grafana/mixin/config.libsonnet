// The mixin's settings. Override any of them with
//   (import 'mixin.libsonnet') + { _config+:: { failureRatio: 0.2 } }
// docs/mixin.md describes each one; the Helm chart sets the thresholds and the two
// base URLs from prometheusRule.thresholds, .grafanaUrl and .runbookUrl.
{
  _config+:: {
    // ------------------------------------------------------------ the exporter's targets
    // The `job` label of the exporter's scrape target: the scrape config's job_name, or
    // the Service's name with a ServiceMonitor.
    exporterJob: 'ams-job-exporter',
    // The series of the exporter's scrape targets, for AMSExporterDown (up{...}). The
    // other rules aggregate `job` and `instance` away (replicas and restarted pods give
    // the same alert), and the shard alerts group by (namespace, job) on their own.
    amsExporterSelector: 'job="%s"' % self.exporterJob,

    // ------------------------------------------------------------ thresholds
    // Numbers go into PromQL, durations into `for` / `keep_firing_for`.
    stuckProcessingSeconds: 7200,  // AMSJobStuckProcessing: running longer than this (s)
    queuedTooLongSeconds: 1800,  // AMSJobQueuedTooLong: Queued/Scheduled job older than this (s)
    failureRatio: 0.1,  // AMSJobFailureRateHigh: share of jobs ended in Error over 1h
    failureRateMinJobs: 10,  // AMSJobFailureRateHigh: jobs that must have ended in that hour
    failureRateFor: '5m',  // AMSJobFailureRateHigh: for
    failedKeepFiringFor: '30m',  // AMSJobFailed: keep_firing_for (rides out exporter restarts)
    refreshFailingFor: '10m',  // AMSExporterRefreshFailing: for
    exporterDownFor: '5m',  // AMSExporterDown: for
    throttledPer5m: 0,  // AMSApiThrottled: throttling answers per 5 minutes above this
    throttledFor: '15m',  // AMSApiThrottled: for
    eventsRejectedPer10m: 0,  // AMSEventDeliveriesRejected: refused deliveries (one reason) per 10m above this
    eventsRejectedFor: '15m',  // AMSEventDeliveriesRejected: for
    shardsMissingFor: '10m',  // AMSExporterShardsMissing: for
    shardingMismatchFor: '15m',  // AMSExporterShardingMismatch: for

    // ------------------------------------------------------------ links
    // Base URLs of the alerts' dashboard_url and runbook_url annotations.
    grafanaUrl: 'https://grafana.example.com',
    runbookUrl: 'https://git.example.com/ams-job-exporter/blob/main/docs/runbook.md',

    // ------------------------------------------------------------ correlation labels
    // The label names of the exporter's metrics.correlation_labels (e.g. ['tenant',
    // 'flow']). Queries that remove duplicate replicas with `max by (...)` keep them, so
    // that totals over several values add up instead of taking the largest one.
    correlationLabels: [],
    // Extra labels AMSJobFailureRateHigh (and the recording rules it reads) groups by,
    // after `account`: ['tenant'] fires once per account and tenant. Each should be
    // one of the correlation labels; they are kept by the duplicate removal too.
    failureRateGroupingLabels: [],
    // The label the overview's "By tenant" table groups by.
    tenantLabel: 'tenant',

    // ------------------------------------------------------------ dashboards
    dashboardTags: ['ams'],
  },
}
