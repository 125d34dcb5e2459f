{{- define "modelguard.name" -}}modelguard{{- end -}}
{{- define "modelguard.fullname" -}}{{ .Values.fullnameOverride | default .Release.Name | trunc 40 | trimSuffix "-" }}{{- end -}}
{{- define "modelguard.labels" -}}
app.kubernetes.io/name: modelguard
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: modelguard
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}
{{- define "modelguard.selector" -}}
app.kubernetes.io/name: modelguard
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}
{{- define "modelguard.image" -}}
{{- if .Values.image.digest -}}{{ .Values.image.repository }}@{{ .Values.image.digest }}{{- else -}}{{ .Values.image.repository }}:{{ .Values.image.tag }}{{- end -}}
{{- end -}}
{{- define "modelguard.webhookService" -}}{{ include "modelguard.fullname" . }}-webhook{{- end -}}
{{- define "modelguard.tlsSecret" -}}{{ .Values.webhook.existingSecret | default (printf "%s-webhook-tls" (include "modelguard.fullname" .)) }}{{- end -}}
