{{/* Chart name, truncated to the 63 characters of a label value. */}}
{{- define "ams-job-exporter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: the release name when it already contains the chart name, otherwise
"<release>-<chart>"; 63 characters at most (DNS names).
*/}}
{{- define "ams-job-exporter.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "ams-job-exporter.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels every object carries. */}}
{{- define "ams-job-exporter.labels" -}}
helm.sh/chart: {{ include "ams-job-exporter.chart" . }}
{{ include "ams-job-exporter.selectorLabels" . }}
app.kubernetes.io/version: {{ include "ams-job-exporter.imageTag" . | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/component: exporter
app.kubernetes.io/part-of: ams-job-exporter
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels that select the exporter's pods (immutable in a Deployment: keep them few). */}}
{{- define "ams-job-exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ams-job-exporter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of the `helm test` pod: not matched by the Service's selector. */}}
{{- define "ams-job-exporter.testLabels" -}}
helm.sh/chart: {{ include "ams-job-exporter.chart" . }}
app.kubernetes.io/name: {{ printf "%s-test" (include "ams-job-exporter.name" .) | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ include "ams-job-exporter.imageTag" . | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/component: test
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "ams-job-exporter.imageTag" -}}
{{- .Values.image.tag | default .Chart.AppVersion | toString }}
{{- end }}

{{- define "ams-job-exporter.image" -}}
{{- printf "%s:%s" .Values.image.repository (include "ams-job-exporter.imageTag" .) }}
{{- end }}

{{- define "ams-job-exporter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ams-job-exporter.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret whose keys become environment variables; empty when there is none. */}}
{{- define "ams-job-exporter.secretName" -}}
{{- if .Values.secret.existingSecret }}
{{- .Values.secret.existingSecret }}
{{- else if .Values.secret.create }}
{{- include "ams-job-exporter.fullname" . }}
{{- end }}
{{- end }}

{{- define "ams-job-exporter.tls" -}}
{{- if and .Values.webConfig (hasKey .Values.webConfig "tls_server_config") }}true{{ end }}
{{- end }}

{{/* http or https, for probes, the ServiceMonitor and the test pod. */}}
{{- define "ams-job-exporter.scheme" -}}
{{- if include "ams-job-exporter.tls" . }}https{{ else }}http{{ end }}
{{- end }}

{{- define "ams-job-exporter.configDir" -}}/etc/ams-job-exporter{{- end }}
{{- define "ams-job-exporter.webConfigFile" -}}/etc/ams-job-exporter/web/web-config.yaml{{- end }}

{{/* Fails with a clear message when a Prometheus Operator kind is asked for but the
cluster (or `helm template --api-versions`) does not offer it. */}}
{{- define "ams-job-exporter.requireMonitoringApi" -}}
{{- if not (.root.Capabilities.APIVersions.Has "monitoring.coreos.com/v1") }}
{{- fail (printf "%s.enabled needs the monitoring.coreos.com/v1 API (Prometheus Operator CRDs); with helm template pass --api-versions monitoring.coreos.com/v1" .key) }}
{{- end }}
{{- end }}

{{/*
A threshold value as it goes into PromQL or a rule field: integral numbers without an
exponent or a decimal point (YAML numbers arrive as float64), the rest as written.
*/}}
{{- define "ams-job-exporter.thresholdLiteral" -}}
{{- $v := . }}
{{- if and (kindIs "float64" $v) (eq $v (floor $v)) }}
{{- printf "%.0f" $v }}
{{- else }}
{{- toString $v }}
{{- end }}
{{- end }}

{{/*
The rule file files/alerts/ams-jobs.rules.yaml (a copy of grafana/alerts/, made by
scripts/sync-chart-files) with prometheusRule.thresholds and the link base URLs
substituted.

The file marks each tunable literal with a trailing comment "# threshold: <name>" and
lists every name with its default in its header ("#   <name>   <default>   <meaning>").
On each marked line the last occurrence of the default literal before the marker is
replaced by the value. A marker without a default, a default not found on its line, or
a threshold the file does not know fails the render instead of shipping a rule that
silently ignores a value.
*/}}
{{- define "ams-job-exporter.rules" -}}
{{- $path := "files/alerts/ams-jobs.rules.yaml" }}
{{- $file := .Files.Get $path }}
{{- if not $file }}
{{- fail (printf "%s is missing from the chart: run scripts/sync-chart-files" $path) }}
{{- end }}
{{- $lines := splitList "\n" $file }}
{{- /* defaults from the header table */}}
{{- $defaults := dict }}
{{- range $lines }}
{{- if regexMatch "^#\\s+[a-z][A-Za-z0-9]*\\s{2,}\\S+\\s{2,}\\S" . }}
{{- $fields := regexSplit "\\s+" (trimPrefix "#" . | trim) 3 }}
{{- $_ := set $defaults (index $fields 0) (index $fields 1) }}
{{- end }}
{{- end }}
{{- $values := dict }}
{{- range $name, $value := .Values.prometheusRule.thresholds }}
{{- if not (hasKey $defaults $name) }}
{{- fail (printf "prometheusRule.thresholds.%s: %s has no such threshold" $name $path) }}
{{- end }}
{{- $_ := set $values $name (include "ams-job-exporter.thresholdLiteral" $value) }}
{{- end }}
{{- if not (get $values "exporterJob") }}
{{- $_ := set $values "exporterJob" (include "ams-job-exporter.fullname" .) }}
{{- end }}
{{- $marker := "\\s#\\s*threshold:\\s*([A-Za-z][A-Za-z0-9_]*)\\s*$" }}
{{- $out := list }}
{{- range $line := $lines }}
{{- $found := regexFind $marker $line }}
{{- if $found }}
{{- $name := regexReplaceAll $marker $found "${1}" }}
{{- if not (hasKey $defaults $name) }}
{{- fail (printf "%s: marker %q has no default in the file's header" $path $name) }}
{{- end }}
{{- $default := get $defaults $name }}
{{- $code := trimSuffix $found $line }}
{{- $literal := printf "^(|.*[^A-Za-z0-9_.])%s([^A-Za-z0-9_.].*|)$" (regexQuoteMeta $default) }}
{{- if not (regexMatch $literal $code) }}
{{- fail (printf "%s: threshold %s: default %q not found on its line %q" $path $name $default $line) }}
{{- end }}
{{- $value := get $values $name | default $default }}
{{- $line = printf "%s%s" (regexReplaceAll $literal $code (printf "${1}%s${2}" $value)) $found }}
{{- end }}
{{- $out = append $out $line }}
{{- end }}
{{- $text := join "\n" $out }}
{{- with .Values.prometheusRule.grafanaUrl }}
{{- $text = replace "https://grafana.example.com" (trimSuffix "/" .) $text }}
{{- end }}
{{- with .Values.prometheusRule.runbookUrl }}
{{- $text = replace "https://git.example.com/ams-job-exporter/blob/main/docs/runbook.md" . $text }}
{{- end }}
{{- $text }}
{{- end }}

{{/*
The exporter's configuration as the ConfigMap carries it: values.config and, with
events.enabled, the `events` section of the push receiver: enabled, path (events.path)
and, with events.existingSecret, the shared secret(s) as ${EVENTS_SECRET} (and
${EVENTS_SECRET_PREVIOUS}) references, which the Deployment sets from that Secret.
Keys set under config.events win over these. The receiver refuses to start without
authentication, so the render fails first when there is none.
*/}}
{{- define "ams-job-exporter.config" -}}
{{- $config := deepCopy .Values.config }}
{{- $ev := .Values.events }}
{{- if $ev.enabled }}
{{- $user := dict }}
{{- if hasKey $config "events" }}
{{- if not (kindIs "map" $config.events) }}
{{- fail "config.events: expected a map (the exporter's events section)" }}
{{- end }}
{{- $user = $config.events }}
{{- end }}
{{- if and (hasKey $user "enabled") (not $user.enabled) }}
{{- fail "events.enabled is true but config.events.enabled is false: set only events.enabled" }}
{{- end }}
{{- $chart := dict "enabled" true "path" $ev.path }}
{{- if $ev.existingSecret }}
{{- $secrets := list "${EVENTS_SECRET}" }}
{{- if $ev.previousSecretKey }}
{{- $secrets = append $secrets "${EVENTS_SECRET_PREVIOUS}" }}
{{- end }}
{{- $_ := set $chart "secrets" $secrets }}
{{- end }}
{{- $events := merge (deepCopy $user) $chart }}
{{- if not (or $events.secrets $events.entra $events.insecure_no_auth) }}
{{- fail "events.enabled: the push receiver needs authentication: a shared secret (events.existingSecret) or Entra tokens (config.events.entra)" }}
{{- end }}
{{- $_ := set $config "events" $events }}
{{- end }}
{{- toYaml $config }}
{{- end }}

{{/* The path the push receiver answers on (the rendered config's events.path). */}}
{{- define "ams-job-exporter.eventsPath" -}}
{{- $config := include "ams-job-exporter.config" . | fromYaml }}
{{- $config.events.path | default "/events" }}
{{- end }}

{{/* The ingress controller as a NetworkPolicyPeer (events.ingress). */}}
{{- define "ams-job-exporter.ingressControllerPeer" -}}
{{- $ing := .Values.events.ingress }}
{{- if not (or $ing.controllerNamespaceSelector $ing.controllerPodSelector) }}
{{- fail "networkPolicy.enabled with events.ingress.enabled: set events.ingress.controllerNamespaceSelector and/or .controllerPodSelector to the ingress controller's pods" }}
{{- end }}
{{- with $ing.controllerNamespaceSelector }}
namespaceSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $ing.controllerPodSelector }}
podSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
