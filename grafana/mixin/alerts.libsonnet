// Alerts on the jobs and on the exporter itself (SPEC §6; docs/runbook.md says what
// each one means and what to do).
//
// Design (details in docs/runbook.md):
// - No rule depends on the `job` or `instance` labels of the exporter's series: the
//   per-job alerts aggregate them away (max by the exporter's own labels), so two
//   replicas, or a pod that comes back with a new address, give the same alert.
//   The exceptions: AMSExporterDown looks for the scrape targets
//   (_config.amsExporterSelector), and the shard alerts count the shards of one
//   installation, grouped by the targets' `namespace` and `job` (one StatefulSet
//   scraped through one Service; a label a plain scrape config does not set, such as
//   `namespace`, is simply empty).
// - AMSJobFailed pages once per failed job: it is keyed on the job, fires while the
//   exporter exports the job in Error and resolves when the job leaves the
//   exposition (retention.failed after its end). keep_firing_for bridges scrape gaps
//   and exporter restarts; Alertmanager's repeat_interval for it must be longer than
//   retention.failed (see the runbook's "Alertmanager routing").
local promql = import 'lib/promql.libsonnet';

{
  prometheusAlerts+:: {
    // the numeric thresholds as PromQL literals
    local numbers = ['stuckProcessingSeconds', 'queuedTooLongSeconds', 'failureRatio',
                     'failureRateMinJobs', 'throttledPer5m', 'eventsRejectedPer10m'],
    local cfg = $._config + { [name]: promql.number($._config[name]) for name in numbers },

    // ------------------------------------------------------------ annotations
    local runbook(alert) = '%s#%s' % [cfg.runbookUrl, std.asciiLower(alert)],
    local overview = '%s/d/ams-jobs-overview/ams-jobs-overview' % cfg.grafanaUrl,
    local overviewOfAccount = overview + '?var-account={{ $labels.account | urlquery }}',
    local jobDetail = cfg.grafanaUrl + '/d/ams-job-detail/ams-job-detail'
                      + '?var-account={{ $labels.account | urlquery }}'
                      + '&var-transform={{ $labels.transform | urlquery }}'
                      + '&var-job={{ $labels.job_id | urlquery }}',
    // Descriptions are written as lines and shown as one paragraph.
    local paragraph(lines) = std.join(' ', lines),
    local theJob = 'Job "{{ $labels.job_name }}" ({{ $labels.job_id }}) of account {{ $labels.account }}'
                   + '{{ if $labels.transform }}, transform {{ $labels.transform }},{{ end }}',
    local alert(name, severity, expr, annotations, dashboard, extra={}) = {
      alert: name,
      expr: expr,
    } + extra + {
      labels: { severity: severity },
      annotations: annotations + {
        runbook_url: runbook(name),
        dashboard_url: dashboard,
      },
    },

    // AMSJobFailureRateHigh is per account and the extra grouping labels.
    local rateLabels = cfg.failureRateGroupingLabels,
    local rateGroup = ['account'] + rateLabels,
    // ", tenant {{ $labels.tenant }}" for each extra label.
    local rateWhere = std.join('', [', %s {{ $labels.%s }}' % [l, l] for l in rateLabels]),
    // the recording rule's series of the alert's group, for a template query
    local endedQuery = 'printf "account:ams_job_transitions_ended:increase1h{%s}" %s' % [
      std.join(', ', ['%s=%%q' % l for l in rateGroup]),
      std.join(' ', ['$labels.%s' % l for l in rateGroup]),
    ],

    groups+: [
      {
        name: 'ams-jobs',
        rules: [
          // ---------------------------------------------------------- jobs
          alert('AMSJobFailed', 'critical', |||
            max by (account, transform, job_id, job_name) (ams_job_state{state="Error"}) == 1
          |||, {
            summary: 'AMS job "{{ $labels.job_name }}" failed in account {{ $labels.account }}',
            description: paragraph([
              theJob,
              'ended in Error{{ with printf "max by (code) (ams_job_error_info{account=%q,job_id=%q})" $labels.account $labels.job_id | query }} with error code{{ range . }} {{ .Labels.code }}{{ end }}{{ end }}.',
              'This pages once per job and resolves by itself when the exporter stops',
              'exporting the job (retention.failed after it ended).',
            ]),
          }, jobDetail, { keep_firing_for: cfg.failedKeepFiringFor }),

          alert('AMSJobStuckProcessing', 'warning', |||
            max by (account, transform, job_id, job_name) (ams_job_running_duration_seconds)
              > %(stuckProcessingSeconds)s
            and on (account, transform, job_id)
            max by (account, transform, job_id) (ams_job_state{state="Processing"}) == 1
          ||| % cfg, {
            summary: 'AMS job "{{ $labels.job_name }}" has been processing for {{ $value | humanizeDuration }}',
            description: paragraph([
              theJob,
              'has been in Processing for {{ $value | humanizeDuration }}, longer than the',
              'threshold (stuckProcessingSeconds).',
            ]),
          }, jobDetail),

          alert('AMSJobQueuedTooLong', 'warning', |||
            max by (account, transform, job_id, job_name) (ams_job_age_seconds)
              > %(queuedTooLongSeconds)s
            and on (account, transform, job_id)
            max by (account, transform, job_id) (ams_job_state{state=~"Queued|Scheduled"}) == 1
          ||| % cfg, {
            summary: 'AMS job "{{ $labels.job_name }}" has been waiting for {{ $value | humanizeDuration }}',
            description: paragraph([
              theJob,
              'was created {{ $value | humanizeDuration }} ago and is still Queued or',
              'Scheduled, longer than the threshold (queuedTooLongSeconds).',
            ]),
          }, jobDetail),

          // The exporter counts every job it sees for the first time as a transition, so
          // after an exporter restart (same instance) the counters restart at the number
          // of retained jobs and increase() counts them again; Error jobs are retained
          // longer than finished ones, which inflates the share. The transition counters
          // may even end up higher than before and show no reset, but the API request
          // counter always restarts near zero: the `unless` drops an account for the
          // hour after it reset. (A restart as a new pod has a new `instance` label: its
          // counters are new series and increase() does not count their first value.)
          alert('AMSJobFailureRateHigh', 'warning', |||
            account:ams_job_failure_ratio:1h > %(ratio)s
            and on (%(group)s)
            account:ams_job_transitions_ended:increase1h >= %(minJobs)s
            unless on (account)
            max by (account) (resets(ams_api_requests_total[1h])) > 0
          ||| % {
            ratio: cfg.failureRatio,
            minJobs: cfg.failureRateMinJobs,
            group: promql.labels(rateGroup),
          }, {
            summary: '{{ $value | humanizePercentage }} of AMS jobs failed in the last hour in account {{ $labels.account }}' + rateWhere,
            description: paragraph([
              'In account {{ $labels.account }}%s, {{ $value | humanizePercentage }} of the jobs that' % rateWhere,
              'ended in the last hour ended in Error{{ with %s | query }} (of {{ . | first | value | printf "%%.0f" }} jobs){{ end }},' % endedQuery,
              'above the threshold (failureRatio).',
            ]),
          }, overviewOfAccount, { 'for': cfg.failureRateFor }),

          // ---------------------------------------------------------- exporter
          alert('AMSExporterRefreshFailing', 'warning', |||
            max by (account) (ams_up) == 0
          |||, {
            summary: 'ams-job-exporter cannot refresh account {{ $labels.account }}',
            description: paragraph([
              'Every refresh of account {{ $labels.account }} (no job in particular) has failed',
              'for longer than refreshFailingFor. The exporter keeps exporting the last good',
              'job list, so job states and alerts for this account are going stale.',
            ]),
          }, overviewOfAccount, { 'for': cfg.refreshFailingFor }),

          alert('AMSExporterDown', 'critical', |||
            up{%(amsExporterSelector)s} == 0
            or
            absent(up{%(amsExporterSelector)s})
          ||| % cfg, {
            summary: 'ams-job-exporter is down{{ if $labels.instance }} ({{ $labels.instance }}){{ end }}',
            description: paragraph([
              'Prometheus {{ if $labels.instance }}has failed to scrape the exporter at {{ $labels.instance }}{{ else }}has no scrape target{{ end }}',
              'in job {{ $labels.job }} for longer than exporterDownFor. No account\'s jobs are',
              'being watched: failed AMS jobs will not page until it is back.',
            ]),
          }, overview, { 'for': cfg.exporterDownFor }),

          alert('AMSApiThrottled', 'warning', |||
            sum by (account) (increase(ams_api_throttled_total[5m])) > %(throttledPer5m)s
          ||| % cfg, {
            summary: 'AMS is throttling the exporter for account {{ $labels.account }}',
            description: paragraph([
              "AMS has kept answering the exporter's requests for account {{ $labels.account }}",
              '(no job in particular) with throttling responses (503/429) for longer than',
              'throttledFor: {{ $value | printf "%.0f" }} in the last 5 minutes. Refreshes slow',
              'down or fail.',
            ]),
          }, overviewOfAccount, { 'for': cfg.throttledFor }),

          // ---------------------------------------------------------- push events
          // Deliveries the push receiver refused (events.enabled). Event Grid does not
          // retry a webhook delivery answered 400, 401 or 413, so every rejection here is
          // an event lost to push (polling still finds the job, later). A 10 minute window
          // held for 15 minutes fires when rejections keep coming for 5 minutes or more,
          // never 10 minutes apart; one stray request (a scanner on a public Ingress) does
          // not. sum, not max: a delivery reaches one replica only. `unknown_account` is
          // left out: an event of an account this exporter does not watch (a subscription
          // wider than the config) is refused by design and loses nothing; the dashboard
          // shows it (see the runbook). `unconfirmed` is left out too: an event about a job
          // the API does not have (deleted right after it ended, or forged); `queue_full`
          // is in: events name unknown jobs faster than they can be fetched.
          alert('AMSEventDeliveriesRejected', 'warning', |||
            sum by (reason) (
              increase(ams_events_rejected_total{reason=~"unauthorized|malformed|too_large|queue_full"}[10m])
            ) > %(eventsRejectedPer10m)s
          ||| % cfg, {
            summary: "ams-job-exporter keeps rejecting push event deliveries ({{ $labels.reason }})",
            description: paragraph([
              "The exporter's push receiver has kept refusing event deliveries as",
              '{{ $labels.reason }} for longer than eventsRejectedFor: {{ $value | printf "%.0f" }} in the',
              'last 10 minutes{{ if eq $labels.reason "unauthorized" }} (a secret or an Entra token',
              'it does not accept: a rotation done on one side only, or events.entra not',
              'matching the subscription){{ else if eq $labels.reason "too_large" }} (bodies larger',
              'than events.max_body_bytes){{ else if eq $labels.reason "malformed" }} (bodies that are',
              'not Event Grid or CloudEvents job events){{ else if eq $labels.reason "queue_full" }} (events',
              'naming unknown jobs faster than they can be fetched by name){{ end }}. Senders do not retry these',
              'answers: the events are lost, and job states reach Prometheus only by polling.',
            ]),
          }, overview, { 'for': cfg.eventsRejectedFor }),

          // ---------------------------------------------------------- shards
          // Sharded exporters (--total-shards above 1, the chart's sharding.enabled) export
          // ams_exporter_shard_ordinal and ams_exporter_total_shards; unsharded ones export
          // neither, and these rules stay silent. Shards are counted by distinct ordinal
          // (count_values), so two pods claiming one ordinal count once. A shard whose
          // target is down (up == 0) or gone has no samples and counts as missing. When
          // every shard is gone nothing says how many there should be: AMSExporterDown
          // covers that. During a resharding rollout the shards disagree on the total
          // until the last pod has restarted: the `for` of AMSExporterShardingMismatch
          // rides that out.
          alert('AMSExporterShardsMissing', 'critical', |||
            count by (namespace, job) (
              count_values by (namespace, job) ("ordinal", ams_exporter_shard_ordinal)
            )
              < max by (namespace, job) (ams_exporter_total_shards)
          |||, {
            summary: 'Only {{ $value }} of {{ with printf `max(ams_exporter_total_shards{namespace=%q, job=%q})` $labels.namespace $labels.job | query }}{{ . | first | value | printf "%.0f" }}{{ end }} ams-job-exporter shards report (job {{ $labels.job }})',
            description: paragraph([
              'Shards reporting in job {{ $labels.job }}{{ with $labels.namespace }}, namespace {{ . }}{{ end }}:{{ range printf `count_values("ordinal", ams_exporter_shard_ordinal{namespace=%q, job=%q})` $labels.namespace $labels.job | query | sortByLabel "ordinal" }} {{ .Labels.ordinal }}{{ end }};',
              "the others have been missing for longer than shardsMissingFor. Nobody refreshes",
              "the missing shards' accounts: their jobs are not exported and their failures do",
              'not page.{{ with printf `up{namespace=%q, job=%q} == 0` $labels.namespace $labels.job | query }}',
              'Targets failing their scrapes:{{ range sortByLabel "instance" . }} {{ .Labels.instance }}{{ end }}.{{ else }}',
              'No target of the job fails its scrapes: the missing shards are not targets',
              '(pods not running, or not endpoints of the Service).{{ end }}',
            ]),
          }, overview, { 'for': cfg.shardsMissingFor }),

          alert('AMSExporterShardingMismatch', 'warning', |||
            count by (namespace, job) (
              count_values by (namespace, job) ("total", ams_exporter_total_shards)
            ) > 1
          |||, {
            summary: 'ams-job-exporter shards disagree on the number of shards (job {{ $labels.job }})',
            description: paragraph([
              'The shards of job {{ $labels.job }}{{ with $labels.namespace }}, namespace {{ . }}{{ end }} report',
              '{{ $value }} different totals ({{ range $i, $s := printf `count_values("total", ams_exporter_total_shards{namespace=%q, job=%q})` $labels.namespace $labels.job | query | sortByLabel "total" }}{{ if $i }}, {{ end }}{{ $s.Labels.total }} from {{ $s.Value }} shard(s){{ end }})',
              'for longer than shardingMismatchFor. Shards that split the accounts differently',
              'leave some accounts with no shard and give others to two.',
            ]),
          }, overview, { 'for': cfg.shardingMismatchFor }),
        ],
      },
    ],
  },
}
