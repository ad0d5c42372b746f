{{/* The base name of every object: the release name, unless it already holds the chart name. */}}
{{- define "modelarts-operator.fullname" -}}
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

{{- define "modelarts-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "modelarts-operator.labels" -}}
app.kubernetes.io/name: {{ include "modelarts-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Labels that select the manager's Pods (the same keys as config/manager). */}}
{{- define "modelarts-operator.selectorLabels" -}}
control-plane: controller-manager
app.kubernetes.io/name: {{ include "modelarts-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* An object's name: the full name plus a suffix, within Kubernetes' 63 characters. */}}
{{- define "modelarts-operator.objectName" -}}
{{- printf "%s-%s" (include "modelarts-operator.fullname" (index . 0)) (index . 1) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "modelarts-operator.serviceAccountName" -}}
{{- include "modelarts-operator.objectName" (list . "controller-manager") -}}
{{- end -}}

{{/* The port of a bind address such as ":8443" or "0.0.0.0:8443". */}}
{{- define "modelarts-operator.port" -}}
{{- regexReplaceAll ".*:" . "" | int -}}
{{- end -}}
