// ams-job-detail.json (SPEC §7): one job (variables account, transform, job): its state
// over time, progress, durations and metadata.
local promql = import '../lib/promql.libsonnet';
local g = import 'lib.libsonnet';

{
  grafanaDashboards+:: {
    local cfg = $._config,
    local filter = 'account=~"$account", transform=~"$transform", job_id="$job"',
    // The job's value of a per-job metric (replicas give the same one).
    local ofJob(metric) = 'max by (transform, job_id) (%s{%s})' % [metric, filter],
    local value(title, description, metric, legend, unit, suffix='') =
      g.stat(title, description, ofJob(metric) + suffix, legend, unit),
    // A point in time, shown as a date.
    local time(title, description, metric) =
      g.stat(title, description, ofJob(metric) + ' * 1000', title, 'dateTimeAsIso',
             color={ mode: 'fixed', fixedColor: 'text' }, textMode='value'),

    'ams-job-detail.json': g.dashboard(
      uid='ams-job-detail',
      title='AMS job detail',
      description='One Azure Media Services encoding job from ams-job-exporter: state over time, progress, durations and metadata.',
      tags=cfg.dashboardTags,
      from='now-24h',
      variables=[
        g.variables.datasource,
        g.variables.query('account', 'Account', 'label_values(ams_up, account)'),
        g.variables.query('transform', 'Transform', 'label_values(ams_jobs{account=~"$account"}, transform)',
                          'v3 transforms; v2 accounts have none (All matches them).'),
        g.variables.textbox('job_name', 'Job name (regex)', '.*',
                            'A regular expression the whole job name must match (.* for all).'),
        g.variables.query('job', 'Job id',
                          'label_values(ams_job_state_code{account=~"$account", transform=~"$transform", job_name=~"$job_name"}, job_id)',
                          'The job to show (its id); narrow the list with the account, transform and job name filters.',
                          all=false),
        g.variables.adhoc('filters', 'Filters', "Label filters added to every query, such as a correlation label (metrics.correlation_labels). Only the Job info table's metric (ams_job_info) carries correlation labels: the other panels show nothing while one is set."),
      ],
      panels=[
        g.stat('State', "The job's current state.", ofJob('ams_job_state_code'), 'State', 'none',
               colorMode='background', textMode='value', mappings=g.stateMappings)
        + g.pos(0, 0, 4, 4),
        value('Progress', "Progress of the job's tasks (v2 needs `progress: true`; failed jobs keep the progress they had).",
              'ams_job_progress_ratio', 'Progress', 'percentunit')
        + g.pos(4, 0, 4, 4),
        value('Age', 'Time since the job was created.', 'ams_job_age_seconds', 'Age', 's')
        + g.pos(8, 0, 4, 4),
        value('Running duration', 'Time since processing started; frozen once the job is final.',
              'ams_job_running_duration_seconds', 'Running', 's')
        + g.pos(12, 0, 4, 4),
        g.stat('Waited before start', 'Time from creation to the start of processing (no data until the job starts).',
               ofJob('ams_job_start_timestamp_seconds') + '\n-\n' + ofJob('ams_job_created_timestamp_seconds'),
               'Waited', 's')
        + g.pos(16, 0, 4, 4),
        value('Priority', "The job's priority (v2: integer; v3: Low 0, Normal 1, High 2).",
              'ams_job_priority', 'Priority', 'none')
        + g.pos(20, 0, 4, 4),
        g.stateTimeline('State over time', "The job's state over the time range, one colour per state.",
                        'max by (account, transform, job_id, job_name) (ams_job_state_code{%s})' % filter,
                        '{{job_name}}', showValue='auto', rowHeight=0.9, showLegend=false)
        + g.pos(0, 4, 24, 5),
        g.timeseries('Progress over time', 'Task progress while the job processes.',
                     [[ofJob('ams_job_progress_ratio'), 'Progress']], 'percentunit', max=1)
        + g.pos(0, 9, 12, 8),
        g.timeseries('Durations', 'Age (since created) and running duration (since processing started) of the job.',
                     [[ofJob('ams_job_age_seconds'), 'Age'],
                      [ofJob('ams_job_running_duration_seconds'), 'Running duration']], 's')
        + g.pos(12, 9, 12, 8),
        time('Created', 'When the job was created.', 'ams_job_created_timestamp_seconds')
        + g.pos(0, 17, 6, 3),
        time('Started', 'When processing started (no data before).', 'ams_job_start_timestamp_seconds')
        + g.pos(6, 17, 6, 3),
        time('Ended', 'When the job reached Finished, Error or Canceled (no data before).',
             'ams_job_end_timestamp_seconds')
        + g.pos(12, 17, 6, 3),
        time('Last modified', 'When AMS last modified the job.', 'ams_job_last_modified_timestamp_seconds')
        + g.pos(18, 17, 6, 3),
        g.table('Job info', 'Static metadata of the job (ams_job_info): ids, name, template and priority, and its correlation labels (_config.correlationLabels).',
                [['max %s (ams_job_info{%s})' % [
                  promql.by(promql.union(['account', 'transform', 'job_id', 'job_name', 'template_id', 'priority'],
                                         cfg.correlationLabels)),
                  filter,
                ], '']],
                [['account', 'Account'], ['transform', 'Transform'], ['job_name', 'Job name'],
                 ['job_id', 'Job id'], ['template_id', 'Template id'], ['priority', 'Priority']],
                hide=['Value'])
        + g.pos(0, 20, 14, 5),
        g.table('Error codes', 'Error codes of a failed job (ams_job_error_info; v2 needs `progress: true`). The error message is never exported: see the job in AMS.',
                [['max by (code, category) (ams_job_error_info{%s})' % filter, '']],
                [['code', 'Error code'], ['category', 'Category']], hide=['Value'])
        + g.pos(14, 20, 10, 5),
      ],
    ),
  },
}
