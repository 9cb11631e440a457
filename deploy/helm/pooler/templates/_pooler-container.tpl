{{- define "pooler.container" -}}
- name: pooler
  image: {{ .Values.image }}
  args: ["start", "-c", "/etc/pooler/pooler.ini"]
  ports:
    - name: postgres
      containerPort: 6432
    - name: metrics
      containerPort: {{ .Values.metrics.port }}
  readinessProbe:
    httpGet:
      path: /readyz
      port: metrics
    periodSeconds: 5
  livenessProbe:
    httpGet:
      path: /healthz
      port: metrics
    periodSeconds: 10
  resources:
    requests:
      cpu: {{ .Values.resources.cpu }}
      memory: {{ .Values.resources.memory }}
    limits:
      memory: {{ .Values.resources.memoryLimit }}
  securityContext:
    runAsNonRoot: true
    allowPrivilegeEscalation: false
    readOnlyRootFilesystem: true
  volumeMounts:
    - name: pooler-config
      mountPath: /etc/pooler
    - name: pooler-users
      mountPath: /etc/pooler-users
{{- end }}
