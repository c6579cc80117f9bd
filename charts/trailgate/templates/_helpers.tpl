{{/* The release's full name, cut to 63 characters as Kubernetes names must be. */}}
{{- define "trailgate.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "trailgate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector of one component: (dict "root" $ "component" "gateway"). */}}
{{- define "trailgate.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "trailgate.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "trailgate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}{{ .Values.serviceAccount.name | default (include "trailgate.fullname" .) }}{{- else -}}{{ .Values.serviceAccount.name | default "default" }}{{- end -}}
{{- end -}}

{{- define "trailgate.onKafka" -}}
{{- if eq (dig "log" "kind" "embedded" .Values.config) "kafka" -}}true{{- end -}}
{{- end -}}

{{- define "trailgate.sshEnabled" -}}
{{- $ssh := false -}}
{{- if hasKey .Values.config "ssh" -}}{{- $ssh = true -}}{{- end -}}
{{- range $name, $t := (.Values.config.targets | default dict) -}}{{- if eq (dig "kind" "postgres" $t) "ssh" -}}{{- $ssh = true -}}{{- end -}}{{- end -}}
{{- if $ssh -}}true{{- end -}}
{{- end -}}

{{/*
trailgate.yaml from .Values.config, with what the chart decides: the data directory on the pod's
volume, listeners on all interfaces of the pod, metrics (with /healthz and /readyz) on ports.metrics.
*/}}
{{- define "trailgate.config" -}}
{{- $c := deepCopy .Values.config -}}
{{- if hasKey $c "instance" -}}
{{- fail "config.instance must stay unset: each gateway pod takes its pod name as its instance name" -}}
{{- end -}}
{{- if hasKey $c "dataDir" -}}
{{- fail "config.dataDir is set by the chart (/var/lib/trailgate, the pod's volume)" -}}
{{- end -}}
{{- $_ := set $c "dataDir" "/var/lib/trailgate" -}}
{{- $pg := get $c "postgres" | default dict -}}
{{- $_ = set $pg "listen" (dict "host" "0.0.0.0" "port" (int .Values.ports.postgres)) -}}
{{- $_ = set $c "postgres" $pg -}}
{{- if hasKey $c "ssh" -}}
{{- $ssh := get $c "ssh" | default dict -}}
{{- $_ = set $ssh "listen" (dict "host" "0.0.0.0" "port" (int .Values.ports.ssh)) -}}
{{- $_ = set $c "ssh" $ssh -}}
{{- end -}}
{{- if hasKey $c "replay" -}}
{{- $replay := get $c "replay" | default dict -}}
{{- $_ = set $replay "listen" (dict "host" "0.0.0.0" "port" (int .Values.ports.replay)) -}}
{{- $_ = set $c "replay" $replay -}}
{{- end -}}
{{- $_ = set $c "metrics" (dict "host" "0.0.0.0" "port" (int .Values.ports.metrics)) -}}
{{- toYaml $c -}}
{{- end -}}

{{/* Volumes and mounts every pod has: the config, referenced Secrets, a writable /tmp. */}}
{{- define "trailgate.commonVolumes" -}}
- name: config
  configMap:
    name: {{ include "trailgate.fullname" . }}
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
{{- range .Values.secretMounts }}
- name: secret-{{ .name }}
  secret:
    secretName: {{ .name }}
    defaultMode: 0400
{{- end }}
{{- end -}}

{{- define "trailgate.commonMounts" -}}
- name: config
  mountPath: /etc/trailgate/trailgate.yaml
  subPath: trailgate.yaml
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- range .Values.secretMounts }}
- name: secret-{{ .name }}
  mountPath: /etc/trailgate/secrets/{{ .name }}
  readOnly: true
{{- end }}
{{- end -}}

{{/* Probes on the metrics port: /healthz for liveness and startup, /readyz for readiness. */}}
{{- define "trailgate.probes" -}}
startupProbe:
  httpGet: { path: /healthz, port: metrics }
  {{- toYaml .Values.probes.startup | nindent 2 }}
livenessProbe:
  httpGet: { path: /healthz, port: metrics }
  {{- toYaml .Values.probes.liveness | nindent 2 }}
readinessProbe:
  httpGet: { path: /readyz, port: metrics }
  {{- toYaml .Values.probes.readiness | nindent 2 }}
{{- end -}}
