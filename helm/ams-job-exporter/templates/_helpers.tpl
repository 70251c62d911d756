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
The rule file files/alerts/ams-jobs.rules.yaml, rendered. scripts/build-mixin writes it
from the mixin (grafana/mixin) as a template: every threshold and link base URL is an
action calling ams-job-exporter.mixinValue, and the Prometheus templates of the
annotations are escaped, so that `tpl` gives the rule file with your values.
*/}}
{{- define "ams-job-exporter.rules" -}}
{{- $path := "files/alerts/ams-jobs.rules.yaml" }}
{{- $file := .Files.Get $path }}
{{- if not $file }}
{{- fail (printf "%s is missing from the chart: run scripts/build-mixin" $path) }}
{{- end }}
{{- tpl $file . }}
{{- end }}

{{/*
A value of the mixin's _config in the rule file: (list $ "<name>" "<the mixin's default>").
grafanaUrl and runbookUrl come from prometheusRule.grafanaUrl / .runbookUrl, the rest
from prometheusRule.thresholds.<name>; unset or empty, the mixin's default, except
exporterJob, whose default is the Service's name (the `job` label the chart's
ServiceMonitor gives the exporter's targets).
*/}}
{{- define "ams-job-exporter.mixinValue" -}}
{{- $root := index . 0 }}
{{- $name := index . 1 }}
{{- $value := index . 2 }}
{{- $rule := $root.Values.prometheusRule }}
{{- $set := "" }}
{{- if eq $name "grafanaUrl" }}
{{- $set = trimSuffix "/" ($rule.grafanaUrl | default "") }}
{{- else if eq $name "runbookUrl" }}
{{- $set = $rule.runbookUrl | default "" }}
{{- else }}
{{- $thresholds := $rule.thresholds | default dict }}
{{- if hasKey $thresholds $name }}
{{- $set = include "ams-job-exporter.thresholdLiteral" (index $thresholds $name) }}
{{- end }}
{{- if and (eq $name "exporterJob") (not $set) }}
{{- $set = include "ams-job-exporter.fullname" $root }}
{{- end }}
{{- end }}
{{- $set | default $value }}
{{- end }}

{{/*
A label list of the mixin's _config as a JSON array: (list $ "correlationLabels") or
(list $ "failureRateGroupingLabels"), from prometheusRule.<name>. An empty
correlationLabels is the label names of the exporter's config.metrics.correlation_labels
(sorted: Helm does not keep a map's order), which the schema cannot check: they must be
label names, as the exporter requires.
*/}}
{{- define "ams-job-exporter.mixinList" -}}
{{- $root := index . 0 }}
{{- $name := index . 1 }}
{{- $labels := index $root.Values.prometheusRule $name | default list }}
{{- if and (eq $name "correlationLabels") (not $labels) }}
{{- $metrics := dig "metrics" dict ($root.Values.config | default dict) }}
{{- $configured := dict }}
{{- if kindIs "map" $metrics }}
{{- $configured = dig "correlation_labels" dict $metrics }}
{{- end }}
{{- if not (kindIs "map" $configured) }}
{{- fail "config.metrics.correlation_labels: expected a map of label names to correlationData keys" }}
{{- end }}
{{- $labels = keys $configured | sortAlpha }}
{{- range $labels }}
{{- if or (not (regexMatch "^[a-zA-Z_][a-zA-Z0-9_]*$" .)) (hasPrefix "__" .) }}
{{- fail (printf "config.metrics.correlation_labels: %q is not a label name the exporter accepts" .) }}
{{- end }}
{{- end }}
{{- end }}
{{- toJson $labels }}
{{- end }}

{{/*
The labels of a `by (...)` or `on (...)` list in the rule file, comma separated:
(list $ "account" "*failureRateGroupingLabels" ...), where "*<name>" stands for the
labels of the list <name> (ams-job-exporter.mixinList). Each label is written once, at
its first place, as the mixin's promql.union does.
*/}}
{{- define "ams-job-exporter.mixinLabels" -}}
{{- $root := first . }}
{{- $out := list }}
{{- range rest . }}
{{- $items := list . }}
{{- if hasPrefix "*" . }}
{{- $items = include "ams-job-exporter.mixinList" (list $root (trimPrefix "*" .)) | fromJsonArray }}
{{- end }}
{{- range $items }}
{{- if not (has . $out) }}
{{- $out = append $out . }}
{{- end }}
{{- end }}
{{- end }}
{{- join ", " $out }}
{{- end }}

{{/*
A piece of text the mixin writes once per label of a list, repeated for the list's
labels: (list $ "<list name>" "<text, with HELMLABEL for the label>").
*/}}
{{- define "ams-job-exporter.mixinLabelFragments" -}}
{{- $fragment := index . 2 }}
{{- range include "ams-job-exporter.mixinList" (list (index . 0) (index . 1)) | fromJsonArray }}
{{- replace "HELMLABEL" . $fragment }}
{{- end }}
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

{{/* The port the exporter listens on in its container (--web.listen-address). */}}
{{- define "ams-job-exporter.containerPort" -}}10046{{- end }}

{{/* Sharding (sharding.enabled): the headless Service that gives every StatefulSet pod
a DNS name, <fullname>-<ordinal>.<headless>.<namespace>.svc. */}}
{{- define "ams-job-exporter.headlessServiceName" -}}
{{- printf "%s-headless" (include "ams-job-exporter.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The label that tells the headless Service from the main one (the ServiceMonitor
selects the main one only, so that no pod is scraped twice). */}}
{{- define "ams-job-exporter.headlessServiceLabel" -}}
ams-job-exporter/service: headless
{{- end }}

{{/*
The exporter's sharding flags: the ordinal from the pod name (--shard=auto), the
number of shards, and where shard {shard} listens, for forwarding push deliveries to
the shard that owns their account. The peer URL goes to the pod itself (through the
headless Service's per-pod DNS name), so it uses the container port.
*/}}
{{- define "ams-job-exporter.shardArgs" -}}
{{- $fullname := include "ams-job-exporter.fullname" . }}
{{- if gt (len $fullname) 52 }}
{{- fail (printf "sharding.enabled: the StatefulSet name %q is longer than 52 characters (its pods' controller-revision-hash label would exceed 63): set fullnameOverride" $fullname) }}
{{- end }}
- --shard=auto
- --total-shards={{ int .Values.sharding.shards }}
- {{ printf "--shard.peer-url-template=%s" (include "ams-job-exporter.peerUrlTemplate" .) | quote }}
{{- end }}

{{/* Where shard {shard} listens: its pod's DNS name under the headless Service. */}}
{{- define "ams-job-exporter.peerUrlTemplate" -}}
{{- printf "%s://%s-{shard}.%s.%s.svc:%s" (include "ams-job-exporter.scheme" .) (include "ams-job-exporter.fullname" .) (include "ams-job-exporter.headlessServiceName" .) .Release.Namespace (include "ams-job-exporter.containerPort" .) }}
{{- end }}

{{/*
The exporter's pod (metadata and spec), shared by the Deployment and, with
sharding.enabled, the StatefulSet: one definition, so the two cannot drift.
*/}}
{{- define "ams-job-exporter.podTemplate" -}}
{{- $secretName := include "ams-job-exporter.secretName" . }}
{{- $scheme := include "ams-job-exporter.scheme" . | upper -}}
metadata:
  annotations:
    # A change of the config (or of the Secrets the chart renders) rolls the pods.
    checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
    {{- if and .Values.secret.create (not .Values.secret.existingSecret) }}
    checksum/secret: {{ include (print $.Template.BasePath "/secret.yaml") . | sha256sum }}
    {{- end }}
    {{- if .Values.webConfig }}
    checksum/web-config: {{ include (print $.Template.BasePath "/web-config-secret.yaml") . | sha256sum }}
    {{- end }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  labels:
    {{- include "ams-job-exporter.labels" . | nindent 4 }}
    {{- if .Values.workloadIdentity.enabled }}
    azure.workload.identity/use: "true"
    {{- end }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "ams-job-exporter.serviceAccountName" . }}
  automountServiceAccountToken: {{ .Values.serviceAccount.automountServiceAccountToken }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  containers:
    - name: exporter
      image: {{ include "ams-job-exporter.image" . | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args:
        - --config.file={{ include "ams-job-exporter.configDir" . }}/config.yaml
        - --web.listen-address=:{{ include "ams-job-exporter.containerPort" . }}
        - --log.level={{ .Values.log.level }}
        - --log.format={{ .Values.log.format }}
        {{- if .Values.webConfig }}
        - --web.config.file={{ include "ams-job-exporter.webConfigFile" . }}
        {{- end }}
        {{- if .Values.sharding.enabled }}
        {{- include "ams-job-exporter.shardArgs" . | nindent 8 }}
        {{- end }}
        {{- with .Values.extraArgs }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      ports:
        - name: http
          containerPort: {{ include "ams-job-exporter.containerPort" . }}
          protocol: TCP
      {{- $events := .Values.events }}
      {{- $eventsSecret := and $events.enabled $events.existingSecret }}
      {{- if or .Values.env $eventsSecret }}
      env:
        {{- if $eventsSecret }}
        # the push receiver's shared secret(s): config events.secrets references them
        - name: EVENTS_SECRET
          valueFrom:
            secretKeyRef:
              name: {{ $events.existingSecret }}
              key: {{ $events.secretKey }}
        {{- with $events.previousSecretKey }}
        - name: EVENTS_SECRET_PREVIOUS
          valueFrom:
            secretKeyRef:
              name: {{ $events.existingSecret }}
              key: {{ . }}
        {{- end }}
        {{- end }}
        {{- with .Values.env }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- end }}
      {{- if or $secretName .Values.envFrom }}
      envFrom:
        {{- if $secretName }}
        - secretRef:
            name: {{ $secretName }}
        {{- end }}
        {{- with .Values.envFrom }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- end }}
      livenessProbe:
        httpGet:
          path: /healthz
          port: http
          scheme: {{ $scheme }}
        {{- with .Values.livenessProbe }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      readinessProbe:
        httpGet:
          path: /readyz
          port: http
          scheme: {{ $scheme }}
        {{- with .Values.readinessProbe }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      {{- with .Values.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      volumeMounts:
        - name: config
          mountPath: {{ include "ams-job-exporter.configDir" . }}/config.yaml
          subPath: config.yaml
          readOnly: true
        - name: tmp
          mountPath: /tmp
        {{- if $secretName }}
        - name: secret
          mountPath: {{ .Values.secret.mountPath }}
          readOnly: true
        {{- end }}
        {{- if .Values.webConfig }}
        - name: web-config
          mountPath: {{ dir (include "ams-job-exporter.webConfigFile" .) }}
          readOnly: true
        {{- end }}
        {{- with .Values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "ams-job-exporter.fullname" . }}
    - name: tmp
      emptyDir:
        {{- with .Values.tmpSizeLimit }}
        sizeLimit: {{ . }}
        {{- end }}
    {{- if $secretName }}
    - name: secret
      secret:
        secretName: {{ $secretName }}
        defaultMode: 0440
    {{- end }}
    {{- if .Values.webConfig }}
    - name: web-config
      secret:
        secretName: {{ include "ams-job-exporter.fullname" . }}-web-config
        defaultMode: 0440
    {{- end }}
    {{- with .Values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
