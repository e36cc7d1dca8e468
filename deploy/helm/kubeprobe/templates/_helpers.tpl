{{/* Names, labels and the image, shared by every template of the chart. */}}

{{- define "kubeprobe.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kubeprobe.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "kubeprobe.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kubeprobe.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kubeprobe.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "kubeprobe.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kubeprobe
{{- end -}}

{{- define "kubeprobe.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{- define "kubeprobe.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "kubeprobe.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding the database URL, the encryption key and the admin token. */}}
{{- define "kubeprobe.secretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-secrets" (include "kubeprobe.fullname" .)) -}}
{{- end -}}

{{- define "kubeprobe.publicUrl" -}}
{{- .Values.center.publicUrl | default (printf "http://%s.%s.svc:%v" (include "kubeprobe.fullname" .) .Release.Namespace .Values.service.port) -}}
{{- end -}}

{{/* Where a pod of the release may run: the center's image pull secrets, node selector and
tolerations (the `helm test` pods need the nodes the center runs on; without them they can land
on a node that never runs them). */}}
{{- define "kubeprobe.placement" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations: {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
