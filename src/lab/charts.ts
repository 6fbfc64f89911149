/**
 * THE one place where the third-party Helm charts the lab installs are pinned.
 *
 * The versions could NOT be checked against the chart repositories' index.yaml from the build
 * machine (no internet there apart from package registries). Each is a version seen pinned in
 * public deployment scripts from 2026 (KEDA 2.20.2, redis-ha 4.35.x, kube-prometheus-stack
 * 91.9.0, Alloy 1.13.0). `keda-lab install` runs `helm repo add` and
 * `helm upgrade --install --version <version>`, so a wrong pin fails loudly at install time with
 * Helm's "chart version not found" message — bump it here, and only here.
 *
 * Loki: since 2026-03-16 the open-source Loki chart is maintained in the grafana-community
 * repository (grafana/loki#20705); grafana.github.io/helm-charts serves it for Grafana Enterprise
 * Logs only. The fork point 6.55.0 exists in both repositories and is pinned here from the
 * community one (7.x has breaking changes our values were not written for).
 */

/** One third-party chart: where it comes from and the exact version the lab installs. */
export interface ChartRef {
  /** Local name for `helm repo add <repoName> <repoUrl>`. */
  readonly repoName: string
  /** Chart repository URL. */
  readonly repoUrl: string
  /** Chart name inside the repository. */
  readonly chart: string
  /** Exact chart version (never a range: installs must be reproducible). */
  readonly version: string
}

/** The pinned third-party charts, keyed by the role they play in the lab. */
export const CHARTS = {
  /** KEDA operator + metrics API server (release `keda`, app namespace). */
  keda: {
    repoName: 'kedacore',
    repoUrl: 'https://kedacore.github.io/charts',
    chart: 'keda',
    version: '2.20.2',
  },
  /** Redis with Sentinel (release `redis-ha`, `fullnameOverride: redis-ha`, master group `mymaster`). */
  redisHa: {
    repoName: 'dandydeveloper',
    repoUrl: 'https://dandydeveloper.github.io/charts',
    chart: 'redis-ha',
    version: '4.35.2',
  },
  /** Prometheus Operator, Prometheus, Alertmanager, Grafana, kube-state-metrics (monitoring namespace). */
  kubePrometheusStack: {
    repoName: 'prometheus-community',
    repoUrl: 'https://prometheus-community.github.io/helm-charts',
    chart: 'kube-prometheus-stack',
    version: '91.9.0',
  },
  /** Loki, single binary, for the services' logs (monitoring namespace); see above for the repository. */
  loki: {
    repoName: 'grafana-community',
    repoUrl: 'https://grafana-community.github.io/helm-charts',
    chart: 'loki',
    version: '6.55.0',
  },
  /** Grafana Alloy, ships pod logs to Loki (monitoring namespace). */
  alloy: {
    repoName: 'grafana',
    repoUrl: 'https://grafana.github.io/helm-charts',
    chart: 'alloy',
    version: '1.13.0',
  },
} as const satisfies Record<string, ChartRef>

/** Role name of a pinned chart (`keda`, `redisHa`, …). */
export type ChartName = keyof typeof CHARTS

/** Path of the lab's own application chart, relative to the package root. */
export const APP_CHART_PATH = 'templates/chart/keda-lab'
