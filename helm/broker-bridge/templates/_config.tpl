{{/*
The broker-bridge config every pod reads (configs/cluster.yaml is this with default values).
Secrets stay ${VAR} references, resolved from the pods' environment; handlers.group comes
from BB_HANDLER_GROUP, which each handler Deployment sets to its group's name.
*/}}
{{- define "broker-bridge.config" -}}
{{- $v := .Values -}}
{{- $names := dict -}}
{{- $groups := dict -}}
{{- range $v.handlerGroups -}}
{{- if hasKey $groups .name -}}{{- fail (printf "handlerGroups: group name %q appears twice" .name) -}}{{- end -}}
{{- $_ := set $groups .name true -}}
{{- range .bindings -}}
{{- if hasKey $names .name -}}{{- fail (printf "handlerGroups: binding %q appears twice; binding names are unique across groups" .name) -}}{{- end -}}
{{- $_ := set $names .name true -}}
{{- $binding := .name -}}
{{- $text := toYaml . -}}
{{- range $var, $secret := dict "BB_ANALYTICS_DSN" "postgres" "BB_SMTP_PASSWORD" "smtp" "BB_SMTP_USERNAME" "smtp" "BB_VAPID_PRIVATE_KEY" "vapid" "BB_VAPID_PUBLIC_KEY" "vapid" -}}
{{- if and (contains (printf "${%s}" $var) $text) (not (get $v.secrets $secret).name) -}}
{{- fail (printf "handlerGroups: binding %q uses ${%s}: set secrets.%s.name to the Secret that holds it" $binding $var $secret) -}}
{{- end -}}
{{- end -}}
{{- if and (eq (.stream | default "events") "presence") (not $v.streams.presence.enabled) -}}
{{- fail (printf "handlerGroups: binding %q has stream: presence; set streams.presence.enabled" .name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
# Rendered by the broker-bridge Helm chart (helm/broker-bridge) from its values.
# configs/cluster.yaml is this file for the default values, kept for reading; after changing
# the chart, regenerate it with:
#   helm template bb helm/broker-bridge --show-only templates/configmap.yaml |
#     /usr/bin/python3 -c 'import sys,yaml; print(yaml.safe_load(sys.stdin)["data"]["config.yaml"])' \
#     > configs/cluster.yaml
# Secrets are ${VAR} references set from Kubernetes Secrets; each handler Deployment sets
# BB_HANDLER_GROUP to its group and runs `broker-bridge run --bindings <its bindings>`; the
# edge Deployment runs `broker-bridge edge`.
nats:
  url: {{ $v.nats.url | quote }}
  name: broker-bridge
  {{- if $v.nats.tokenSecret.name }}
  token: "${BB_NATS_TOKEN}"
  {{- end }}
  connect_timeout: {{ $v.nats.connectTimeout }}
  request_timeout: {{ $v.nats.requestTimeoutSeconds }}s
streams:
  events:
    subjects: ["events.>"]
    storage: {{ $v.streams.storage }}
    replicas: {{ $v.streams.replicas }}
    max_age: {{ $v.streams.eventsMaxAge }}
    duplicate_window: {{ $v.streams.duplicateWindow }}
  dlq:
    subjects: ["dlq.>"]
    storage: {{ $v.streams.storage }}
    replicas: {{ $v.streams.replicas }}
    max_age: {{ $v.streams.dlqMaxAge }}
  realtime:
    subjects: ["rt.>"]
    storage: {{ $v.streams.storage }}
    replicas: {{ $v.streams.replicas }}
    max_age: {{ $v.streams.realtimeMaxAge }}
  advisories:
    storage: {{ $v.streams.storage }}
    replicas: {{ $v.streams.replicas }}
  {{- if $v.streams.presence.enabled }}
  presence:
    subjects: ["presence.>"]
    storage: {{ $v.streams.storage }}
    replicas: {{ $v.streams.replicas }}
    max_age: {{ $v.streams.presence.maxAge }}
    duplicate_window: {{ $v.streams.presence.maxAge }}
  {{- end }}
{{- with $v.buckets }}
buckets:
  {{- range . }}
  - {{ merge (dict "replicas" $v.streams.replicas) . | toJson }}
  {{- end }}
{{- end }}
admin:
  listen: 0.0.0.0:{{ $v.adminPort }}
log:
  level: {{ $v.log.level }}
  format: {{ $v.log.format }}
plugins:
  path: [/usr/lib/broker-bridge/plugins]
handlers:
  group: ${BB_HANDLER_GROUP:-default}
  ack_margin: {{ $v.handlers.ackMargin }}
  shutdown_timeout: {{ $v.handlers.shutdownTimeoutSeconds }}s
  fetch_batch: {{ $v.handlers.fetchBatch }}
  fetch_wait: {{ $v.handlers.fetchWait }}
  max_ack_pending: {{ $v.handlers.maxAckPending }}
  lag_poll_interval: {{ $v.handlers.lagPollInterval }}
bindings:
{{- range $v.handlerGroups }}
  # handler group {{ .name }}
  {{- range .bindings }}
  - name: {{ .name }}
    {{- toYaml (omit . "name") | nindent 4 }}
  {{- end }}
{{- end }}
{{- if $v.edge.enabled }}
edge:
  listen: 0.0.0.0:{{ $v.edge.port }}
  path: {{ $v.edge.path }}
  threads: {{ $v.edge.threads }}
  workers: {{ $v.edge.workers }}
  ping_interval: {{ $v.edge.pingInterval }}
  ping_timeout: {{ $v.edge.pingTimeout }}
  shutdown_reconnect_in: {{ $v.edge.shutdownReconnectIn }}
  drain_timeout: {{ $v.edge.drainTimeoutSeconds }}s
  permessage_deflate: {{ $v.edge.permessageDeflate }}
  {{- with $v.edge.allowedOrigins }}
  allowed_origins: {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.edge.trustedProxies }}
  trusted_proxies: {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.edge.limits }}
  limits: {{- toYaml . | nindent 4 }}
  {{- end }}
  auth:
    {{- with $v.edge.auth.issuer }}
    issuer: {{ . | quote }}
    {{- end }}
    {{- with $v.edge.auth.audience }}
    audience: {{ . | quote }}
    {{- end }}
    leeway: {{ $v.edge.auth.leeway }}
    keys: {{- toYaml $v.edge.auth.keys | nindent 6 }}
  channels: {{- toYaml $v.edge.channels | nindent 4 }}
  {{- if $v.streams.presence.enabled }}
  presence:
    heartbeat_interval: {{ $v.edge.presence.heartbeatInterval }}
  {{- end }}
{{- end }}
{{- end -}}
