{{/* Names and labels. */}}
{{- define "broker-bridge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "broker-bridge.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "broker-bridge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "broker-bridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "broker-bridge.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "broker-bridge.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "broker-bridge.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* A handler group's resource name: Kubernetes names take no "_". */}}
{{- define "broker-bridge.groupName" -}}
{{- printf "%s-handlers-%s" (include "broker-bridge.fullname" .root) (.group.name | replace "_" "-") | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Pod annotations: roll on config change; Prometheus scraping. */}}
{{- define "broker-bridge.podAnnotations" -}}
checksum/config: {{ include "broker-bridge.config" . | sha256sum }}
{{- if .Values.metrics.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .Values.adminPort | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- end -}}

{{- define "broker-bridge.secretEnv" -}}
- name: {{ .env }}
  valueFrom:
    secretKeyRef: { name: {{ .name | quote }}, key: {{ .key | quote }} }
{{- end -}}

{{/* Environment shared by every container: the NATS token, when configured. */}}
{{- define "broker-bridge.commonEnv" -}}
{{- with .Values.nats.tokenSecret.name }}
{{ include "broker-bridge.secretEnv" (dict "env" "BB_NATS_TOKEN" "name" . "key" $.Values.nats.tokenSecret.key) }}
{{- end }}
{{- end -}}

{{/* Secrets only handler pods need: SMTP, VAPID, PostgreSQL. */}}
{{- define "broker-bridge.handlerEnv" -}}
{{- $s := .Values.secrets -}}
{{- with $s.smtp.name }}
{{ include "broker-bridge.secretEnv" (dict "env" "BB_SMTP_USERNAME" "name" . "key" $s.smtp.usernameKey) }}
{{ include "broker-bridge.secretEnv" (dict "env" "BB_SMTP_PASSWORD" "name" . "key" $s.smtp.passwordKey) }}
{{- end }}
{{- with $s.vapid.name }}
{{ include "broker-bridge.secretEnv" (dict "env" "BB_VAPID_PUBLIC_KEY" "name" . "key" $s.vapid.publicKeyKey) }}
{{ include "broker-bridge.secretEnv" (dict "env" "BB_VAPID_PRIVATE_KEY" "name" . "key" $s.vapid.privateKeyKey) }}
{{- end }}
{{- with $s.postgres.name }}
{{ include "broker-bridge.secretEnv" (dict "env" "BB_ANALYTICS_DSN" "name" . "key" $s.postgres.key) }}
{{- end }}
{{- end -}}

{{/* The admin port, probes and volumes every container has. */}}
{{- define "broker-bridge.probes" -}}
livenessProbe:
  httpGet: { path: /healthz, port: admin }
  periodSeconds: 10
  failureThreshold: 3
readinessProbe:
  httpGet: { path: /readyz, port: admin }
  periodSeconds: 5
  failureThreshold: 2
startupProbe:
  httpGet: { path: /healthz, port: admin }
  periodSeconds: 2
  failureThreshold: 30
{{- end -}}

{{- define "broker-bridge.volumeMounts" -}}
- { name: config, mountPath: /etc/broker-bridge, readOnly: true }
- { name: tmp, mountPath: /tmp }
- { name: data, mountPath: /var/lib/broker-bridge }
{{- if .Values.email.templatesConfigMap }}
- { name: email-templates, mountPath: /etc/broker-bridge-templates, readOnly: true }
{{- end }}
{{- end -}}

{{- define "broker-bridge.volumes" -}}
- name: config
  configMap: { name: {{ include "broker-bridge.fullname" . }} }
- { name: tmp, emptyDir: {} }
- { name: data, emptyDir: {} }
{{- with .Values.email.templatesConfigMap }}
- name: email-templates
  configMap: { name: {{ . | quote }} }
{{- end }}
{{- end -}}

{{- define "broker-bridge.podPlacement" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity: {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* NetworkPolicy pieces. */}}
{{- define "broker-bridge.egressBase" -}}
- ports: [{ port: 53, protocol: UDP }, { port: 53, protocol: TCP }]
- ports: [{ port: {{ .Values.networkPolicy.natsPort }}, protocol: TCP }]
{{- end }}
{{- define "broker-bridge.metricsIngress" -}}
- ports: [{ port: admin, protocol: TCP }]
  {{- with .Values.networkPolicy.metricsFrom }}
  from: {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
