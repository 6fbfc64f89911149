{{/*
keda-lab.name — the chart name, or nameOverride; truncated to 63 characters (DNS label limit).
*/}}
{{- define "keda-lab.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
keda-lab.fullname — prefix of every resource name. The release name alone when it already
contains the chart name (release `keda-lab` gives `keda-lab-api`, not `keda-lab-keda-lab-api`).
Truncated to 50 so that "-webhook-metrics" style suffixes still fit in 63 characters.
*/}}
{{- define "keda-lab.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
keda-lab.componentName — resource name of one component.
Call with a dict: (dict "root" $ "component" "api").
*/}}
{{- define "keda-lab.componentName" -}}
{{- printf "%s-%s" (include "keda-lab.fullname" .root) .component }}
{{- end }}

{{/*
keda-lab.selectorLabels — the immutable labels a component's Deployment selects its pods by.
Kept apart from the wider label set: selectors cannot change after the first install.
Call with (dict "root" $ "component" "worker").
*/}}
{{- define "keda-lab.selectorLabels" -}}
app.kubernetes.io/name: {{ include "keda-lab.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
keda-lab.labels — the full label set of a component's objects: selector labels plus chart,
version and manager labels. Call with (dict "root" $ "component" "api").
*/}}
{{- define "keda-lab.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "keda-lab.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Values.image.tag | default .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: keda-lab
{{- end }}

{{/*
keda-lab.instanceSelector — labels shared by every pod of this release, whatever the component
(used by the Redis NetworkPolicy to let the whole app in).
*/}}
{{- define "keda-lab.instanceSelector" -}}
app.kubernetes.io/name: {{ include "keda-lab.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
keda-lab.serviceAccountName — the ServiceAccount the pods run as.
*/}}
{{- define "keda-lab.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "keda-lab.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
keda-lab.image — "repository:tag" of the one image every service runs from.
*/}}
{{- define "keda-lab.image" -}}
{{- printf "%s:%s" .Values.image.repository (toString (.Values.image.tag | default .Chart.AppVersion)) }}
{{- end }}

{{/*
keda-lab.redisSecretName — the Secret holding the Redis password: redis.auth.existingSecret,
or the chart's own application Secret when that is empty.
*/}}
{{- define "keda-lab.redisSecretName" -}}
{{- default .Values.secrets.name .Values.redis.auth.existingSecret }}
{{- end }}

{{/*
keda-lab.redisEnv — the Redis and queue environment variables shared by the API and the worker.
Passwords only ever come from the Secret through secretKeyRef, never as literal values.
*/}}
{{- define "keda-lab.redisEnv" -}}
{{- if eq .Values.redis.mode "sentinel" }}
- name: REDIS_SENTINELS
  value: {{ join "," .Values.redis.sentinel.hosts | quote }}
- name: REDIS_SENTINEL_MASTER
  value: {{ .Values.redis.sentinel.masterName | quote }}
{{- else }}
- name: REDIS_URL
  value: {{ printf "redis://%s:%d" .Values.redis.standalone.host (int .Values.redis.standalone.port) | quote }}
{{- end }}
{{- if .Values.redis.auth.enabled }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "keda-lab.redisSecretName" . }}
      key: {{ .Values.redis.auth.passwordKey }}
{{- if and (eq .Values.redis.mode "sentinel") .Values.redis.auth.sentinelPasswordKey }}
- name: REDIS_SENTINEL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "keda-lab.redisSecretName" . }}
      key: {{ .Values.redis.auth.sentinelPasswordKey }}
{{- end }}
{{- end }}
- name: QUEUE_NAME
  value: {{ .Values.queue.name | quote }}
- name: LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
{{- end }}

{{/*
keda-lab.taskEnv — task size and retention variables; null values are left out so that the
binary's own defaults apply.
*/}}
{{- define "keda-lab.taskEnv" -}}
{{- with .Values.task }}
{{- if not (kindIs "invalid" .iterations) }}
- name: TASK_ITERATIONS
  value: {{ .iterations | int64 | toString | quote }}
{{- end }}
{{- if not (kindIs "invalid" .maxIterations) }}
- name: TASK_MAX_ITERATIONS
  value: {{ .maxIterations | int64 | toString | quote }}
{{- end }}
- name: TASK_ATTEMPTS
  value: {{ .attempts | int | toString | quote }}
- name: TASK_RETENTION_SECONDS
  value: {{ .retentionSeconds | int64 | toString | quote }}
{{- end }}
{{- end }}

{{/*
keda-lab.podSecurity — pod spec fields every component shares: ServiceAccount, pod
securityContext, pull secrets. Called with the root context: the shared ServiceAccount, token not
mounted (no pod talks to the Kubernetes API). Called with (dict "root" $ "serviceAccount" NAME):
that component's own ServiceAccount, token mounted (the webhook's /status reads the lab).
*/}}
{{- define "keda-lab.podSecurity" -}}
{{- $root := .root | default . }}
{{- if .serviceAccount }}
serviceAccountName: {{ .serviceAccount }}
automountServiceAccountToken: true
{{- else }}
serviceAccountName: {{ include "keda-lab.serviceAccountName" $root }}
automountServiceAccountToken: false
{{- end }}
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
keda-lab.tmpVolume — the emptyDir mounted at /tmp: the root filesystem is read-only, and Node
and its libraries still want a writable temporary directory.
*/}}
{{- define "keda-lab.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end }}

{{/*
keda-lab.tmpMount — the container side of keda-lab.tmpVolume.
*/}}
{{- define "keda-lab.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end }}

{{/*
keda-lab.affinity — a component's pod affinity: its `affinity` value when set, else a preferred
anti-affinity on the node name, so that the scheduler spreads its replicas over nodes where it can
(preferred, not required: on a one-node cluster, minikube or kind, every replica still schedules).
Call with (dict "root" $ "component" "api" "affinity" .Values.api.affinity).
*/}}
{{- define "keda-lab.affinity" -}}
{{- if .affinity }}
{{- toYaml .affinity }}
{{- else }}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "keda-lab.selectorLabels" . | nindent 12 }}
{{- end }}
{{- end }}

{{/*
keda-lab.dnsEgress — NetworkPolicy egress rule allowing DNS to any resolver (kube-dns/CoreDNS
live in kube-system, but some clusters run node-local caches, so the port is what is pinned).
*/}}
{{- define "keda-lab.dnsEgress" -}}
- ports:
    - protocol: UDP
      port: 53
    - protocol: TCP
      port: 53
{{- end }}

{{/*
keda-lab.redisEgress — NetworkPolicy egress rule from an app pod to Redis and its Sentinels
(redis-ha pods, and HAProxy in standalone mode).
*/}}
{{- define "keda-lab.redisEgress" -}}
- to:
    - podSelector:
        matchLabels:
          {{- toYaml .Values.networkPolicy.redis.podLabels | nindent 10 }}
    - podSelector:
        matchLabels:
          {{- toYaml .Values.networkPolicy.redis.haproxyPodLabels | nindent 10 }}
  ports:
    - protocol: TCP
      port: 6379
    - protocol: TCP
      port: 26379
{{- end }}

{{/*
keda-lab.fromMonitoring — NetworkPolicy peer: any pod in the monitoring namespace (Prometheus,
Alertmanager). Selected by the `kubernetes.io/metadata.name` label every namespace carries.
*/}}
{{- define "keda-lab.fromMonitoring" -}}
- namespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: {{ .Values.monitoring.namespace }}
{{- end }}

{{/*
keda-lab.connected — "true" when the chart is rendered against a live cluster (`helm install`,
`helm upgrade`): `lookup` answers only then; under `helm template` and `helm lint` it returns
nothing. The API checks below apply only against a live cluster, so that offline renders (and
`keda-lab render`) show every object install would create once KEDA and the monitoring stack are in.
*/}}
{{- define "keda-lab.connected" -}}
{{- if lookup "v1" "Namespace" "" "kube-system" -}}
true
{{- end }}
{{- end }}

{{/*
keda-lab.monitoringApi — "true" when the monitoring objects are rendered: monitoring.enabled and,
against a live cluster, that cluster serves prometheus-operator's ServiceMonitor and PrometheusRule
(kube-prometheus-stack installs their CRDs). A plain `helm install` on a cluster without them then
works instead of failing on "no matches for kind ServiceMonitor".
*/}}
{{- define "keda-lab.monitoringApi" -}}
{{- $apis := and (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor") (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1/PrometheusRule") }}
{{- if and .Values.monitoring.enabled (or $apis (not (include "keda-lab.connected" .))) -}}
true
{{- end }}
{{- end }}

{{/*
keda-lab.requireKeda — against a live cluster that serves no KEDA API, fails the install with one
clear message: the worker is scaled by a ScaledObject, and without KEDA the install would stop on
the API server's "no matches for kind ScaledObject".
*/}}
{{- define "keda-lab.requireKeda" -}}
{{- if and (include "keda-lab.connected" .) (not (.Capabilities.APIVersions.Has "keda.sh/v1alpha1/ScaledObject")) }}
{{- fail "KEDA is not installed in this cluster (it serves no keda.sh/v1alpha1 ScaledObject), and the worker is scaled by a KEDA ScaledObject. Install KEDA first (helm install keda kedacore/keda --namespace keda --create-namespace), or let `keda-lab install` install everything" }}
{{- end }}
{{- end }}

{{/*
keda-lab.monitoringNamespaceReady — "true" when the dashboard ConfigMap can be created in
monitoring.namespace: monitoring is on and, against a live cluster, that namespace exists (a plain
`helm install` on a cluster without kube-prometheus-stack would otherwise fail on "namespaces not found").
*/}}
{{- define "keda-lab.monitoringNamespaceReady" -}}
{{- if and .Values.monitoring.enabled (or (not (include "keda-lab.connected" .)) (lookup "v1" "Namespace" "" .Values.monitoring.namespace)) -}}
true
{{- end }}
{{- end }}
