{{- define "oversight.labels" -}}
app.kubernetes.io/part-of: oversight
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{- define "oversight.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}

{{- define "oversight.podSecurity" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile: {type: RuntimeDefault}
{{- end -}}

{{- define "oversight.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities: {drop: [ALL]}
{{- end -}}

{{- define "oversight.secretEnv" -}}
- name: OVERSIGHT_DB
  valueFrom: {secretKeyRef: {name: {{ .Values.secret.name }}, key: db-url}}
- name: OVERSIGHT_SUBJECT_KEY
  valueFrom: {secretKeyRef: {name: {{ .Values.secret.name }}, key: subject-key}}
- name: OVERSIGHT_RECEIPT_KEY
  valueFrom: {secretKeyRef: {name: {{ .Values.secret.name }}, key: receipt-key}}
{{- end -}}
