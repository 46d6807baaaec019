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

{{/*
What a user must still set, as a list of "value (what it is)" texts; empty when configured.
*/}}
{{- define "sei-satellite.missing" -}}
{{- $missing := list }}
{{- $satellite := .Values.config.satellite }}
{{- if not $satellite.tenant }}{{ $missing = append $missing "config.satellite.tenant (your SEI tenant)" }}{{ end }}
{{- if not $satellite.endpoint }}{{ $missing = append $missing "config.satellite.endpoint (the SEI ingestion endpoint URL)" }}{{ end }}
{{- if and (not $satellite.encryption.recipient_key_id) (not $satellite.encryption.recipients) }}{{ $missing = append $missing "config.satellite.encryption.recipient_key_id (the id of the recipient key SEI gave you)" }}{{ end }}
{{- if not .Values.config.integrations }}{{ $missing = append $missing "config.integrations (at least one Azure DevOps Server: [{id, url}])" }}{{ end }}
{{- if not .Values.secrets.existingSecret }}
{{- if not .Values.secrets.apiKey }}{{ $missing = append $missing "secrets.apiKey (the API key SEI gave you)" }}{{ end }}
{{- if not .Values.secrets.signingPrivateKey }}{{ $missing = append $missing "secrets.signingPrivateKey (--set-file secrets.signingPrivateKey=signing-private-key, made by `satellite keys generate-signing`)" }}{{ end }}
{{- if and (not .Values.secrets.recipientPublicKey) (not $satellite.encryption.recipients) }}{{ $missing = append $missing "secrets.recipientPublicKey (--set-file secrets.recipientPublicKey=<the PEM file SEI gave you>)" }}{{ end }}
{{- range .Values.config.integrations }}
{{- if not (hasKey $.Values.secrets.pats .id) }}{{ $missing = append $missing (printf "secrets.pats.%s (the PAT of integration %s)" .id .id) }}{{ end }}
{{- end }}
{{- end }}
{{- toJson $missing }}
{{- end }}

{{/* Fails the render (install, upgrade, template, lint) with what to set, instead of crash-looping pods. */}}
{{- define "sei-satellite.validate" -}}
{{- $missing := include "sei-satellite.missing" . | fromJsonArray }}
{{- if $missing }}
{{- fail (printf "\n\nsei-satellite is not configured yet. Set:\n  - %s\n(or secrets.existingSecret with the keys api-key, signing-private-key, recipient-public-key and pat-<integration id>;\nsee the chart's README.md and docs/deploy.md)" (join "\n  - " $missing)) }}
{{- end }}
{{- if and .Values.podDisruptionBudget.enabled (not (eq (toString .Values.podDisruptionBudget.maxUnavailable) "")) (not (eq (toString .Values.podDisruptionBudget.minAvailable) "")) }}
{{- fail "podDisruptionBudget: set either maxUnavailable or minAvailable, not both (set the other to \"\")" }}
{{- end }}
{{- end }}

{{/* The satellite container's environment (also the test pod's). */}}
{{- define "sei-satellite.env" -}}
{{- with .Values.extraEnv }}
env:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The satellite container's mounts (also the test pod's). */}}
{{- define "sei-satellite.volumeMounts" -}}
volumeMounts:
  - name: config
    mountPath: {{ include "sei-satellite.configDir" . }}
    readOnly: true
  - name: secrets
    mountPath: {{ include "sei-satellite.secretsDir" . }}
    readOnly: true
  - name: data
    mountPath: {{ include "sei-satellite.dataDir" . }}
  - name: tmp
    mountPath: /tmp
  {{- with .Values.extraVolumeMounts }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}

{{/* The pod's volumes but the data volume (a claim per pod, or an emptyDir). */}}
{{- define "sei-satellite.volumes" -}}
- name: config
  configMap:
    name: {{ include "sei-satellite.fullname" . }}
- name: secrets
  secret:
    secretName: {{ include "sei-satellite.secretName" . }}
    # Group-readable: files belong to root and the fsGroup (10001).
    defaultMode: 0440
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Containers given in values (initContainers, sidecars): containerSecurityContext unless they set their own. */}}
{{- define "sei-satellite.extraContainers" -}}
{{- $out := list }}
{{- range .containers }}
{{- $c := deepCopy . }}
{{- if not (hasKey $c "securityContext") }}{{ $_ := set $c "securityContext" $.securityContext }}{{ end }}
{{- $out = append $out $c }}
{{- end }}
{{- toYaml $out }}
{{- end }}

{{/* Pod scheduling shared by the pods and the test pod. */}}
{{- define "sei-satellite.scheduling" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
checksum/secret of the pod template: the chart's Secret, or with existingSecret its name, the
rolloutToken and, when helm can read it (install/upgrade, not template), the Secret's data.
*/}}
{{- define "sei-satellite.secretChecksum" -}}
{{- if .Values.secrets.existingSecret }}
{{- $existing := lookup "v1" "Secret" .Release.Namespace .Values.secrets.existingSecret }}
{{- printf "%s\n%s\n%s" .Values.secrets.existingSecret .Values.secrets.rolloutToken (toJson (default (dict) $existing.data)) | sha256sum }}
{{- else }}
{{- printf "%s\n%s" (include (print .Template.BasePath "/secret.yaml") .) .Values.secrets.rolloutToken | sha256sum }}
{{- end }}
{{- end }}
