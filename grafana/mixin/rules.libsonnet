// Recording rules: jobs that ended, and ended in Error, in the last hour, and their
// share. AMSJobFailureRateHigh reads them; at 100,000 jobs they keep the alert (and
// anyone graphing the share) from summing the transition counters on every evaluation.
local promql = import 'lib/promql.libsonnet';

{
  prometheusRules+:: {
    local cfg = $._config,
    // What the failure share is computed per: the account, and the extra labels the
    // alert is grouped by (correlation labels, _config.failureRateGroupingLabels).
    local grouping = ['account'] + cfg.failureRateGroupingLabels,
    // max by (..., to_state) first: replicas scraping the same account count once.
    // Every correlation label is kept there, so that the counters of its values add up.
    local dedupe = promql.union(
      promql.union(['account', 'transform', 'to_state'], cfg.correlationLabels),
      cfg.failureRateGroupingLabels
    ),
    local ended(toState) = |||
      sum %(grouping)s (
        max %(dedupe)s (
          increase(ams_job_transitions_total{to_state%(toState)s}[1h])
        )
      )
    ||| % { grouping: promql.by(grouping), dedupe: promql.by(dedupe), toState: toState },

    groups+: [
      {
        name: 'ams-jobs.rules',
        rules: [
          // Jobs that reached a final state / Error in the last hour.
          {
            record: 'account:ams_job_transitions_ended:increase1h',
            expr: ended('=~"Finished|Error|Canceled"'),
          },
          {
            record: 'account:ams_job_transitions_error:increase1h',
            expr: ended('="Error"'),
          },
          // Share of the jobs ended in the last hour that ended in Error; no sample
          // (rather than NaN or +Inf) when no job ended.
          {
            record: 'account:ams_job_failure_ratio:1h',
            expr: |||
              account:ams_job_transitions_error:increase1h
                / (account:ams_job_transitions_ended:increase1h > 0)
            |||,
          },
        ],
      },
    ],
  },
}
