{{/* Chart name, truncated to 63 characters (a DNS label). */}}
{{- define "sei-satellite.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: release + chart name, unless the release name already contains the chart name.
Truncated to 52 characters: StatefulSet pods append "-<ordinal>" and the controller adds a
revision hash label, which must stay within 63 characters.
*/}}
{{- define "sei-satellite.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "sei-satellite.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every resource. */}}
{{- define "sei-satellite.labels" -}}
helm.sh/chart: {{ include "sei-satellite.chart" . }}
{{ include "sei-satellite.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sei
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels that select the satellite's pods (never change them on upgrade). */}}
{{- define "sei-satellite.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sei-satellite.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "sei-satellite.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sei-satellite.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "sei-satellite.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{- define "sei-satellite.secretName" -}}
{{- default (include "sei-satellite.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/* Where things are inside the container (the Dockerfile's layout). */}}
{{- define "sei-satellite.configDir" -}}/etc/sei-satellite{{- end }}
{{- define "sei-satellite.configPath" -}}/etc/sei-satellite/satellite.yml{{- end }}
{{- define "sei-satellite.secretsDir" -}}/var/run/secrets/sei-satellite{{- end }}
{{- define "sei-satellite.dataDir" -}}/var/lib/sei-satellite{{- end }}

{{/*
The satellite's config file: .Values.config with the chart's parts filled in. Secrets are
${file:...} references to the Secret's files, never values; the shard count is replicaCount
and each pod's shard index comes from its host name (the StatefulSet ordinal); the privacy secret,
when the Secret has one, is shared by every pod (privacy.secret); the HTTP endpoint
listens on containerPorts.http (the probes' and the Service's port); shutdown_grace defaults to
10 s less than terminationGracePeriodSeconds.
*/}}
{{- define "sei-satellite.config" -}}
{{- $dir := include "sei-satellite.secretsDir" . }}
{{- $config := deepCopy .Values.config }}
{{- $satellite := $config.satellite }}
{{- $_ := set $satellite "id" (default (include "sei-satellite.fullname" .) $satellite.id) }}
{{- $_ := set $satellite "api_key" (printf "${file:%s/api-key}" $dir) }}
{{- $encryption := $satellite.encryption }}
{{- if $encryption.recipients }}
{{- $_ := unset $encryption "recipient_key_id" }}
{{- else }}
{{- $_ := set $encryption "recipient_public_key" (printf "${file:%s/recipient-public-key}" $dir) }}
{{- end }}
{{- $_ := set $encryption "signing_private_key" (printf "${file:%s/signing-private-key}" $dir) }}
{{- $_ := set $satellite "data_dir" (include "sei-satellite.dataDir" .) }}
{{- $_ := set $satellite "shard" (dict "count" (max 1 (int .Values.replicaCount))) }}
{{- $_ := set $satellite "http" (dict "listen" (printf "0.0.0.0:%d" (int .Values.containerPorts.http))) }}
{{- if not (hasKey $satellite "shutdown_grace") }}
{{- $_ := set $satellite "shutdown_grace" (printf "%ds" (max 1 (sub (int .Values.terminationGracePeriodSeconds) 10))) }}
{{- end }}
{{- $integrations := list }}
{{- range $config.integrations }}
{{- $integrations = append $integrations (set (deepCopy .) "pat" (printf "${file:%s/pat-%s}" $dir .id)) }}
{{- end }}
{{- $_ := set $config "integrations" $integrations }}
{{- if .Values.secrets.privacySecret }}
{{- $privacy := default (dict) $config.privacy }}
{{- $_ := set $privacy "secret" (printf "${file:%s/privacy-secret}" $dir) }}
{{- $_ := set $config "privacy" $privacy }}
{{- end }}
{{- toYaml $config }}
{{- end }}
