/**
 * THE one place where the third-party Helm charts the lab installs are pinned.
 *
 * Versions: KEDA 2.20.2 (kedacore/charts, 2026-09-03), redis-ha 4.38.0 (DandyDeveloper/charts,
 * 2026-06-15), kube-prometheus-stack 88.6.1 (prometheus-community/helm-charts, 2026-08-28), Loki
 * 18.11.7 (grafana-community/helm-charts, 2026-08-29) were read from the charts' sources; Alloy
 * 1.11.1 is the chart release merged on 2026-08-06 (grafana/alloy#6840, Alloy 1.18.x).
 *
 * Where they come from at install time: these repositories, a mirror (`install --chart-repo
 * NAME=URL`), or a folder written by `keda-lab charts pull DIR` (`install --charts DIR`, checked
 * against these versions): src/lab/chart-sources.ts. A wrong pin fails `charts pull`, and install's
 * `helm upgrade`, with the chart's name and version.
 *
 * Tests: the cluster and helm-command tests install stand-in charts at these versions from a
 * loopback chart repository (test/helpers/chart-repo.ts); the real charts are rendered with the
 * values install writes by test/chart/third-party.test.ts when KEDA_LAB_CHARTS_DIR points at a
 * folder from `keda-lab charts pull` (opt-in: the repositories are not reachable from every
 * machine). To bump a chart: change its version here, run `keda-lab charts pull DIR` on a connected
 * machine and `KEDA_LAB_CHARTS_DIR=DIR npx vitest run test/chart/third-party.test.ts`.
 *
 * Loki: since 2026-03-16 the open-source Loki chart is maintained in the grafana-community
 * repository (grafana/loki#20705); grafana.github.io/helm-charts serves it for Grafana Enterprise
 * Logs only.
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
    version: '4.38.0',
  },
  /** Prometheus Operator, Prometheus, Alertmanager, Grafana, kube-state-metrics (monitoring namespace). */
  kubePrometheusStack: {
    repoName: 'prometheus-community',
    repoUrl: 'https://prometheus-community.github.io/helm-charts',
    chart: 'kube-prometheus-stack',
    version: '88.6.1',
  },
  /** Loki, single binary, for the services' logs (monitoring namespace); see above for the repository. */
  loki: {
    repoName: 'grafana-community',
    repoUrl: 'https://grafana-community.github.io/helm-charts',
    chart: 'loki',
    version: '18.11.7',
  },
  /** Grafana Alloy, ships pod logs to Loki (monitoring namespace). */
  alloy: {
    repoName: 'grafana',
    repoUrl: 'https://grafana.github.io/helm-charts',
    chart: 'alloy',
    version: '1.11.1',
  },
} as const satisfies Record<string, ChartRef>

/** Role name of a pinned chart (`keda`, `redisHa`, …). */
export type ChartName = keyof typeof CHARTS

/** Path of the lab's own application chart, relative to the package root. */
export const APP_CHART_PATH = 'templates/chart/keda-lab'
