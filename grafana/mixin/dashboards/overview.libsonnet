// ams-jobs-overview.json (SPEC §7): jobs per state now and over time, failures, active
// jobs, a state timeline, the exporter's health, push events, and a table per tenant.
local promql = import '../lib/promql.libsonnet';
local g = import 'lib.libsonnet';

{
  grafanaDashboards+:: {
    local cfg = $._config,
    // Every query filters on the account and transform variables (and per-job ones on
    // the job name); `max by` removes the duplicates of replicas, keeping the
    // correlation labels of the families that have them.
    local filter = 'account=~"$account", transform=~"$transform"',
    local jobFilter = filter + ', job_name=~"$job_name"',
    local dedupe(labels) = promql.by(promql.union(labels, cfg.correlationLabels)),
    // Jobs entering states (toState: a to_state matcher, or '' for all) in `range`, per `by`.
    local transitions(toState, range, by) =
      'sum %(by)s (max %(max)s (increase(ams_job_transitions_total{%(filter)s%(toState)s}[%(range)s])))' % {
        by: promql.by(by),
        max: dedupe(promql.union(['account', 'transform', 'to_state'], by)),
        filter: filter,
        toState: if toState == '' then '' else ', to_state' + toState,
        range: range,
      },
    // Share of the jobs that ended in `range` that ended in Error, per `by`.
    local failedShare(range, by) =
      transitions('="Error"', range, by) + '\n/\n('
      + transitions('=~"Finished|Error|Canceled"', range, by) + ' > 0)',
    // A per-job value of the jobs in some states: a table column.
    local ofJobs(metric, states, suffix='') = std.rstripChars(|||
      max by (account, transform, job_id, job_name) (%(metric)s{%(filter)s})%(suffix)s
        and on (account, transform, job_id)
      max by (account, transform, job_id) (ams_job_state{%(filter)s, state%(states)s}) == 1
    ||| % { metric: metric, filter: jobFilter, states: states, suffix: suffix }, '\n'),
    local jobLink = g.override('Job', [['links', [{
      title: 'Job detail',
      url: '/d/ams-job-detail/ams-job-detail?var-datasource=${datasource}&var-account=${__data.fields.account}&var-transform=$__all&var-job=${__data.fields.job_id}&${__url_time_range}',
    }]]]),
    local jobsByState = 'sum by (state) (max %s (ams_jobs{%s}))' % [
      dedupe(['account', 'transform', 'state']),
      filter,
    ],
    local tenant = cfg.tenantLabel,
    local perTenant = ['account', tenant],

    'ams-jobs-overview.json': g.dashboard(
      uid='ams-jobs-overview',
      title='AMS jobs overview',
      description="Azure Media Services encoding jobs from ams-job-exporter: states, failures, active jobs, push events and the exporter's health.",
      tags=cfg.dashboardTags,
      from='now-6h',
      variables=[
        g.variables.datasource,
        g.variables.query('account', 'Account', 'label_values(ams_up, account)'),
        g.variables.query('transform', 'Transform', 'label_values(ams_jobs{account=~"$account"}, transform)',
                          'v3 transforms; v2 accounts have none (All matches them).'),
        g.variables.textbox('job_name', 'Job name (regex)', '.*',
                            'A regular expression the whole job name must match (.* for all).'),
        g.variables.adhoc('filters', 'Filters', 'Label filters added to every query, such as a correlation label (metrics.correlation_labels: tenant, flow, ...). Panels of metrics without that label show nothing while it is set: docs/dashboards.md lists which have them.'),
      ],
      panels=[
        g.row('Jobs', 0),
        g.stat('Jobs by state',
               'Jobs the exporter exports now, per state (ams_jobs), for the selected accounts and transforms. Finished/Canceled jobs stay exported for retention.finished, failed ones for retention.failed.',
               jobsByState, '{{state}}', 'short', colorMode='background',
               textMode='value_and_name', overrides=g.stateColors)
        + g.pos(0, 1, 12, 5),
        g.stat('Failed share, last hour',
               'Share of the jobs that ended (Finished, Error, Canceled) in the last hour that ended in Error, per account: what AMSJobFailureRateHigh watches (red from its threshold; the alert also needs enough jobs, see docs/runbook.md).',
               failedShare('1h', ['account']), '{{account}}', 'percentunit',
               steps=[['green', null], ['red', cfg.failureRatio]])
        + g.pos(12, 1, 6, 5),
        g.stat('Oldest waiting job',
               "Age of the oldest job still Queued or Scheduled (0 when none); orange from AMSJobQueuedTooLong's threshold, above which that alert fires per job.",
               'max(ams_job_oldest_age_seconds{%s, state=~"Queued|Scheduled"})' % filter,
               'oldest', 's', steps=[['green', null], ['orange', cfg.queuedTooLongSeconds]])
        + g.pos(18, 1, 6, 5),
        g.timeseries('Jobs per state over time',
                     'Exported jobs per state (ams_jobs), stacked.',
                     [[jobsByState, '{{state}}']], 'short', fillOpacity=20, stacking='normal',
                     overrides=g.stateColors)
        + g.pos(0, 6, 12, 8),
        g.timeseries('Jobs entering each state',
                     'State changes the exporter observed per interval (ams_job_transitions_total); a job seen for the first time counts as entering its state, so an exporter restart shows a one-off spike.',
                     [[transitions('', '$__rate_interval', ['to_state']), '{{to_state}}']],
                     'short', drawStyle='bars', fillOpacity=20, stacking='normal',
                     overrides=g.stateColors)
        + g.pos(12, 6, 12, 8),
        g.timeseries('Failure rate (1h)',
                     "Share of jobs ended in the last hour that ended in Error, per account. The red line is AMSJobFailureRateHigh's threshold (failureRatio).",
                     [[failedShare('1h', ['account']), '{{account}}']], 'percentunit', max=1,
                     steps=[['green', null], ['red', cfg.failureRatio]])
        + g.pos(0, 14, 12, 8),
        g.timeseries('Oldest waiting and running job',
                     'Age of the oldest job in Queued, Scheduled and Processing (ams_job_oldest_age_seconds), per account and transform.',
                     [['max by (account, transform, state) (ams_job_oldest_age_seconds{%s})' % filter,
                       '{{account}} {{transform}} {{state}}']], 's')
        + g.pos(12, 14, 12, 8),

        g.row('Failures', 22),
        g.table('Failed jobs',
                'Jobs in Error that the exporter still exports (retention.failed after they ended): when they ended, how long they ran and how far they got. Each one pages once (AMSJobFailed). Click a job name for its detail dashboard.',
                [
                  [ofJobs('ams_job_end_timestamp_seconds', '="Error"', ' * 1000'), ''],
                  [ofJobs('ams_job_running_duration_seconds', '="Error"'), ''],
                  [ofJobs('ams_job_progress_ratio', '="Error"'), ''],
                ],
                [['account', 'Account'], ['transform', 'Transform'], ['job_name', 'Job'],
                 ['Value #A', 'Ended'], ['Value #B', 'Ran for'], ['Value #C', 'Progress'],
                 ['job_id', 'Job id']],
                overrides=[
                  g.override('Ended', [['unit', 'dateTimeAsIso']]),
                  g.override('Ran for', [['unit', 's']]),
                  g.override('Progress', [['unit', 'percentunit']]),
                  jobLink,
                ],
                sortBy='Ended')
        + g.pos(0, 23, 16, 8),
        g.table('Failed jobs by error code',
                'Exported failed jobs per error code (ams_job_error_info). v2 error codes need `progress: true` on the account.',
                [['count by (account, code) (max by (account, transform, job_id, code) (ams_job_error_info{%s}))' % jobFilter, '']],
                [['account', 'Account'], ['code', 'Error code'], ['Value', 'Jobs']],
                sortBy='Jobs')
        + g.pos(16, 23, 8, 8),

        g.row('Work in progress', 31),
        g.table('Active jobs',
                'Jobs not yet Finished, Error or Canceled: state, age (since created), running duration (since processing started) and progress (when known; v2 needs `progress: true`). Click a job name for its detail dashboard.',
                [
                  [ofJobs(metric, '=~"Queued|Scheduled|Processing|Canceling"'), '']
                  for metric in ['ams_job_state_code', 'ams_job_age_seconds',
                                 'ams_job_running_duration_seconds', 'ams_job_progress_ratio']
                ],
                [['account', 'Account'], ['transform', 'Transform'], ['job_name', 'Job'],
                 ['Value #A', 'State'], ['Value #B', 'Age'], ['Value #C', 'Running for'],
                 ['Value #D', 'Progress'], ['job_id', 'Job id']],
                overrides=[
                  g.override('Age', [['unit', 's']]),
                  g.override('Running for', [['unit', 's']]),
                  g.override('Progress', [['unit', 'percentunit']]),
                  g.override('State', [['mappings', g.stateMappings],
                                       ['custom.cellOptions', { type: 'color-background', mode: 'basic' }]]),
                  jobLink,
                ],
                sortBy='Age')
        + g.pos(0, 32, 24, 9),

        g.row('Timeline', 41),
        g.stateTimeline('Job states',
                        "Each exported job's state over the time range (ams_job_state_code with a value mapping per state). The exporter drops final jobs after their retention, so rows are the recent jobs; narrow them with the job name filter.",
                        'max by (account, transform, job_id, job_name) (ams_job_state_code{%s})' % jobFilter,
                        '{{account}} {{transform}} {{job_name}}')
        + g.pos(0, 42, 24, 12) + { maxDataPoints: 500 },

        g.row('Exporter health', 54),
        g.stat('AMS refresh',
               "ams_up per account: UP when the exporter's last refresh of the account succeeded. While DOWN it keeps exporting the last good jobs (AMSExporterRefreshFailing after %s)." % cfg.refreshFailingFor,
               'max by (account) (ams_up{account=~"$account"})', '{{account}}', 'none',
               steps=[['red', null], ['green', 1]], colorMode='background',
               textMode='value_and_name',
               mappings=[{ type: 'value', options: {
                 '0': { text: 'DOWN', color: 'red', index: 0 },
                 '1': { text: 'UP', color: 'green', index: 1 },
               } }])
        + g.pos(0, 55, 6, 6),
        g.stat('Last successful refresh',
               "Time since the account's last successful refresh.",
               'time() - max by (account) (ams_last_refresh_success_timestamp_seconds{account=~"$account"})',
               '{{account}}', 's', steps=[['green', null], ['orange', 300], ['red', 900]],
               textMode='value_and_name')
        + g.pos(6, 55, 6, 6),
        g.timeseries('Refresh duration',
                     'How long the last refresh of each account took (ams_refresh_duration_seconds).',
                     [['max by (account) (ams_refresh_duration_seconds{account=~"$account"})', '{{account}}']], 's')
        + g.pos(12, 55, 12, 6),
        g.timeseries('API requests by status code',
                     'HTTP requests the exporter sends to AMS per second, by status code (`error`: transport failures).',
                     [['sum by (account, code) (rate(ams_api_requests_total{account=~"$account"}[$__rate_interval]))', '{{account}} {{code}}']],
                     'reqps')
        + g.pos(0, 61, 8, 7),
        g.timeseries('API throttling',
                     'Throttling answers from AMS per second (v2: 503, 429); AMSApiThrottled fires when they keep coming for %s.' % cfg.throttledFor,
                     [['sum by (account) (rate(ams_api_throttled_total{account=~"$account"}[$__rate_interval]))', '{{account}}']],
                     'reqps')
        + g.pos(8, 61, 8, 7),
        g.timeseries('API request duration (p50, p95)',
                     "Latency of the exporter's HTTP requests to AMS (ams_api_request_duration_seconds).",
                     [
                       ['histogram_quantile(%s, sum by (account, le) (rate(ams_api_request_duration_seconds_bucket{account=~"$account"}[$__rate_interval])))' % q[0],
                        '{{account}} %s' % q[1]]
                       for q in [['0.95', 'p95'], ['0.5', 'p50']]
                     ], 's')
        + g.pos(16, 61, 8, 7),
        g.timeseries('Skipped job records',
                     'Job records the exporter dropped per interval: `malformed` (could not be understood) and `limit` (over max_jobs_per_account).',
                     [['sum by (account, reason) (increase(ams_jobs_skipped_total{account=~"$account"}[$__rate_interval]))', '{{account}} {{reason}}']],
                     'short')
        + g.pos(0, 68, 12, 6),
        g.stat('Exporter version',
               'Version of the running exporter(s) (ams_exporter_build_info).',
               'count by (version, python_version) (ams_exporter_build_info)',
               '{{version}} (Python {{python_version}})', 'none', textMode='name')
        + g.pos(12, 68, 12, 6),

        g.row('Push events', 74),
        g.timeseries('Events received by type',
                     'Push events the exporter accepted per second (ams_events_received_total), by account and event type. Empty when events.enabled is off.',
                     [['sum by (account, type) (rate(ams_events_received_total{account=~"$account"}[$__rate_interval]))', '{{account}} {{type}}']],
                     'eps')
        + g.pos(0, 75, 8, 8),
        g.timeseries('Rejected deliveries',
                     'Deliveries the push receiver refused per interval, by reason (ams_events_rejected_total; not per account: a refused delivery is not attributed). unauthorized, malformed and too_large lose events (AMSEventDeliveriesRejected); unknown_account is an event of an account this exporter does not watch.',
                     [['sum by (reason) (increase(ams_events_rejected_total[$__rate_interval]))', '{{reason}}']],
                     'short')
        + g.pos(8, 75, 8, 8),
        g.timeseries('Event delay (p50, p95)',
                     "Time from an event's own time to its receipt by the exporter (ams_event_delay_seconds), per account. Deliveries arrive late when the sender retried them (the exporter was unreachable or answered with an error) or is backlogged; polling covers what pushes miss.",
                     [
                       ['histogram_quantile(%s, sum by (account, le) (rate(ams_event_delay_seconds_bucket{account=~"$account"}[$__rate_interval])))' % q[0],
                        '{{account}} %s' % q[1]]
                       for q in [['0.95', 'p95'], ['0.5', 'p50']]
                     ], 's')
        + g.pos(16, 75, 8, 8),

        // Correlation labels (issue 21): empty unless the exporter's config maps a
        // correlationData key to the label _config.tenantLabel.
        g.collapsedRow('Correlation labels (needs metrics.correlation_labels)', 83, [
          g.table('By %s' % tenant,
                  'Per account and %(t)s over the time range: the jobs that ended, the share that ended in Error, and the 95th percentile of the running duration of the jobs that finished (ams_job_duration_seconds). Needs the exporter option metrics.correlation_labels with a label named %(t)s (docs/configuration.md); without it the %(t)s column is empty.' % { t: tenant },
                  [
                    [transitions('=~"Finished|Error|Canceled"', '$__range', perTenant), ''],
                    [failedShare('$__range', perTenant), ''],
                    ['histogram_quantile(0.95, sum by (account, %(t)s, le) (max %(max)s (increase(ams_job_duration_seconds_bucket{%(filter)s, state="Finished"}[$__range]))))' % {
                      t: tenant,
                      max: dedupe(perTenant + ['transform', 'state', 'le']),
                      filter: filter,
                    }, ''],
                  ],
                  [['account', 'Account'], [tenant, std.asciiUpper(tenant[0]) + tenant[1:]],
                   ['Value #A', 'Jobs ended'], ['Value #B', 'Failed share'],
                   ['Value #C', 'p95 duration (Finished)']],
                  overrides=[
                    g.override('Jobs ended', [['unit', 'short'], ['decimals', 0]]),
                    g.override('Failed share', [['unit', 'percentunit']]),
                    g.override('p95 duration (Finished)', [['unit', 's']]),
                  ],
                  sortBy='Failed share')
          + g.pos(0, 84, 24, 8),
        ]),
      ],
    ),
  },
}
