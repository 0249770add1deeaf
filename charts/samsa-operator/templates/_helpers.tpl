{{- define "samsa-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}{{ .Release.Name | trunc 63 | trimSuffix "-" }}{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "samsa-operator.serviceAccountName" -}}
{{- default (include "samsa-operator.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "samsa-operator.selectorLabels" -}}
app.kubernetes.io/name: samsa-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "samsa-operator.labels" -}}
{{ include "samsa-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}
