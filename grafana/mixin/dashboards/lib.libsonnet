// Building blocks of the dashboards: panels as this project draws them. Every panel and
// query uses the `datasource` variable (SPEC §7); ids are given by `dashboard` in panel
// order, so a panel only says where it goes (pos).
{
  datasource:: { type: 'prometheus', uid: '${datasource}' },

  // The job states with their v2 numbers (ams_job_state_code) and colours.
  states:: [
    { name: 'Queued', color: 'light-purple' },
    { name: 'Scheduled', color: 'purple' },
    { name: 'Processing', color: 'blue' },
    { name: 'Finished', color: 'green' },
    { name: 'Error', color: 'red' },
    { name: 'Canceled', color: '#8F8F8F' },
    { name: 'Canceling', color: 'yellow' },
  ],

  // A value mapping from ams_job_state_code to the state's name and colour.
  stateMappings:: [{
    type: 'value',
    options: {
      [std.toString(i)]: { text: $.states[i].name, color: $.states[i].color, index: i }
      for i in std.range(0, std.length($.states) - 1)
    },
  }],

  // One override per state: series (or stat values) named after a state get its colour.
  stateColors:: [
    {
      matcher: { id: 'byName', options: state.name },
      properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: state.color } }],
    }
    for state in $.states
  ],

  pos(x, y, w, h):: { gridPos: { h: h, w: w, x: x, y: y } },

  // A query. instant: the current value (stats, tables); table: one row per series.
  target(expr, legend='', refId='A', instant=false, table=false):: {
    datasource: $.datasource,
    refId: refId,
    expr: expr,
    legendFormat: legend,
    range: !instant,
    instant: instant,
    editorMode: 'code',
  } + (if table then { format: 'table' } else {}),

  // Queries A, B, C, ... from [expr, legend] pairs.
  targets(queries, instant=false, table=false):: [
    $.target(queries[i][0], queries[i][1], std.char(65 + i), instant, table)
    for i in std.range(0, std.length(queries) - 1)
  ],

  local panel(type, title, description, targets) = {
    type: type,
    title: title,
    description: description,
    datasource: $.datasource,
    targets: targets,
  },

  row(title, y):: {
    type: 'row',
    title: title,
    collapsed: false,
    panels: [],
  } + $.pos(0, y, 24, 1),

  // A row folded away, holding its panels (Grafana shows them when it is opened).
  collapsedRow(title, y, panels):: $.row(title, y) + { collapsed: true, panels: panels },

  // steps: [[colour, from value], ...], the first from null.
  steps(pairs):: { mode: 'absolute', steps: [{ color: p[0], value: p[1] } for p in pairs] },

  stat(title, description, expr, legend, unit, steps=[['green', null]], colorMode='value',
       textMode='auto', color={ mode: 'thresholds' }, mappings=null, overrides=[])::
    panel('stat', title, description, $.targets([[expr, legend]], instant=true)) + {
      fieldConfig: {
        defaults: { unit: unit, color: color, thresholds: $.steps(steps) }
                  + (if mappings == null then {} else { mappings: mappings }),
        overrides: overrides,
      },
      options: {
        reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
        colorMode: colorMode,
        graphMode: 'none',
        justifyMode: 'auto',
        orientation: 'auto',
        textMode: textMode,
        wideLayout: true,
      },
    },

  // queries: [[expr, legend], ...]. steps: drawn as lines (an alert's threshold).
  timeseries(title, description, queries, unit, drawStyle='line', fillOpacity=10,
             stacking='none', max=null, steps=null, overrides=[])::
    panel('timeseries', title, description, $.targets(queries)) + {
      fieldConfig: {
        defaults: {
          unit: unit,
          custom: {
            drawStyle: drawStyle,
            lineWidth: 1,
            fillOpacity: fillOpacity,
            showPoints: 'never',
            spanNulls: false,
            stacking: { mode: stacking, group: 'A' },
          } + (if steps == null then {} else { thresholdsStyle: { mode: 'line' } }),
          min: 0,
        } + (if max == null then {} else { max: max })
        + (if steps == null then {} else { thresholds: $.steps(steps) }),
        overrides: overrides,
      },
      options: {
        legend: { displayMode: 'list', placement: 'bottom', showLegend: true },
        tooltip: { mode: 'multi', sort: 'desc' },
      },
    },

  // One row per job (or label set): the queries' series merged on their labels.
  // columns: [[field, header], ...] in the order shown; other fields follow them.
  // hide: fields not shown besides Time and __name__.
  table(title, description, queries, columns, hide=[], overrides=[], sortBy=null)::
    panel('table', title, description, $.targets(queries, instant=true, table=true)) + {
      fieldConfig: {
        defaults: { custom: { align: 'auto', cellOptions: { type: 'auto' }, inspect: false } },
        overrides: overrides,
      },
      options: {
        showHeader: true,
        cellHeight: 'sm',
        footer: { show: false, reducer: ['sum'], fields: '' },
      } + (if sortBy == null then {} else { sortBy: [{ displayName: sortBy, desc: true }] }),
      transformations: [
        { id: 'merge', options: {} },
        {
          id: 'organize',
          options: {
            excludeByName: { Time: true, __name__: true } + { [field]: true for field in hide },
            indexByName: { [columns[i][0]]: i for i in std.range(0, std.length(columns) - 1) },
            renameByName: { [column[0]]: column[1] for column in columns if column[1] != null },
          },
        },
      ],
    },

  stateTimeline(title, description, expr, legend, showValue='never', rowHeight=0.85,
                showLegend=true)::
    panel('state-timeline', title, description, $.targets([[expr, legend]])) + {
      fieldConfig: {
        defaults: {
          mappings: $.stateMappings,
          color: { mode: 'thresholds' },
          thresholds: $.steps([['text', null]]),
          custom: { fillOpacity: 80, lineWidth: 0, spanNulls: false },
        },
        overrides: [],
      },
      options: {
        mergeValues: true,
        showValue: showValue,
        alignValue: 'left',
        rowHeight: rowHeight,
        legend: { displayMode: 'list', placement: 'bottom', showLegend: showLegend },
        tooltip: { mode: 'single', sort: 'none' },
      },
    },

  // A field override: properties [[id, value], ...] for the field named `name`.
  override(name, properties):: {
    matcher: { id: 'byName', options: name },
    properties: [{ id: p[0], value: p[1] } for p in properties],
  },

  // ---------------------------------------------------------------- variables
  variables:: {
    datasource: {
      type: 'datasource',
      name: 'datasource',
      label: 'Data source',
      query: 'prometheus',
      current: {},
      hide: 0,
      includeAll: false,
      multi: false,
      options: [],
      refresh: 1,
      regex: '',
      skipUrlSync: false,
    },
    // A label_values() variable of the data source.
    query(name, label, query, description=null, all=true):: {
      type: 'query',
      name: name,
      label: label,
      datasource: $.datasource,
      definition: query,
      query: query,
      refresh: 2,
      includeAll: all,
      multi: all,
      current: if all then { selected: true, text: ['All'], value: ['$__all'] } else {},
      options: [],
      regex: '',
      sort: 1,
      hide: 0,
      skipUrlSync: false,
    } + (if all then { allValue: '.*' } else {})
      + (if description == null then {} else { description: description }),
    textbox(name, label, value, description):: {
      type: 'textbox',
      name: name,
      label: label,
      description: description,
      query: value,
      current: { text: value, value: value },
      options: [{ selected: true, text: value, value: value }],
      hide: 0,
      skipUrlSync: false,
    },
    // Grafana's ad hoc filters: label matchers the viewer picks, added to every query.
    adhoc(name, label, description):: {
      type: 'adhoc',
      name: name,
      label: label,
      description: description,
      datasource: $.datasource,
      filters: [],
      hide: 0,
      skipUrlSync: false,
    },
  },

  // ---------------------------------------------------------------- the dashboard
  // panels in order; each gets the next id (panels inside a collapsed row too).
  dashboard(uid, title, description, tags, from, variables, panels):: {
    // p with its id, and the panels of a collapsed row with the ids after it.
    local numbered(p, id) = p { id: id } + (
      if std.objectHas(p, 'panels') then
        { panels: [p.panels[i] { id: id + 1 + i } for i in std.range(0, std.length(p.panels) - 1)] }
      else {}
    ),
    local size(p) = 1 + std.length(std.get(p, 'panels', [])),
    local ids = std.foldl(function(acc, p) acc + [acc[std.length(acc) - 1] + size(p)],
                          panels, [1]),
    annotations: {
      list: [{
        builtIn: 1,
        datasource: { type: 'grafana', uid: '-- Grafana --' },
        enable: true,
        hide: true,
        iconColor: 'rgba(0, 211, 255, 1)',
        name: 'Annotations & Alerts',
        type: 'dashboard',
      }],
    },
    description: description,
    editable: true,
    fiscalYearStartMonth: 0,
    graphTooltip: 1,
    id: null,
    links: [{
      title: 'AMS dashboards',
      type: 'dashboards',
      tags: tags,
      asDropdown: false,
      includeVars: true,
      keepTime: true,
      targetBlank: false,
      icon: 'external link',
      tooltip: '',
      url: '',
    }],
    panels: [numbered(panels[i], ids[i]) for i in std.range(0, std.length(panels) - 1)],
    refresh: '1m',
    schemaVersion: 39,
    tags: tags,
    templating: { list: variables },
    time: { from: from, to: 'now' },
    timepicker: {},
    timezone: '',
    title: title,
    uid: uid,
    version: 1,
    weekStart: '',
  },
}
