// grafanaDashboards, keyed by file name.
(import 'overview.libsonnet') + (import 'detail.libsonnet')
