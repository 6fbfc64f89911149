/**
 * THE one place where the third-party Helm charts the lab installs are pinned.
 *
 * Versions were chosen as recent releases as of late 2026 from what we know of each project's
 * release line; they could NOT be verified against the chart repositories from the build machine
 * (no internet access there apart from package registries). `keda-lab install` runs
 * `helm repo add`/`helm upgrade --install --version <version>`, so a wrong pin fails loudly at install
 * time with Helm's "chart version not found" message — bump it here, and only here.
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
    version: '2.18.1',
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
    version: '79.4.1',
  },
  /** Loki, single binary, for the services' logs (monitoring namespace). */
  loki: {
    repoName: 'grafana',
    repoUrl: 'https://grafana.github.io/helm-charts',
    chart: 'loki',
    version: '6.46.0',
  },
  /** Grafana Alloy, ships pod logs to Loki (monitoring namespace). */
  alloy: {
    repoName: 'grafana',
    repoUrl: 'https://grafana.github.io/helm-charts',
    chart: 'alloy',
    version: '1.4.0',
  },
} as const satisfies Record<string, ChartRef>

/** Role name of a pinned chart (`keda`, `redisHa`, …). */
export type ChartName = keyof typeof CHARTS

/** Path of the lab's own application chart, relative to the package root. */
export const APP_CHART_PATH = 'templates/chart/keda-lab'
