// The ams-job-exporter monitoring mixin: _config, prometheusRules (recording rules),
// prometheusAlerts and grafanaDashboards (keyed by file name). docs/mixin.md shows how
// to use it; scripts/build-mixin writes the shipped files under grafana/ from it.
(import 'config.libsonnet')
+ (import 'rules.libsonnet')
+ (import 'alerts.libsonnet')
+ (import 'dashboards/dashboards.libsonnet')
