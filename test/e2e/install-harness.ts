/**
 * Harness for the install/render/prompt e2e tests: a loopback fake Kubernetes API seeded like a
 * cluster (nodes, StorageClass, metrics APIService, optional KEDA CRD, the app's Deployments), a
 * kubeconfig for it, the fake helm/minikube/kind/docker programs first on PATH with their argv log,
 * the fake Telegram Bot API, and a real loopback chart repository (empty: the fake helm installs
 * nothing) that every pinned repository points at through KEDA_LAB_CHART_REPO, so that install's
 * pre-flight probe of the repositories answers without the internet. Everything is torn down by
 * `close()`.
 */
import {existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {type FakeKubeApi, startFakeKubeApi, writeKubeconfig} from '../fakes/kube-api.js'
import {type FakeTelegram, startFakeTelegram} from '../fakes/telegram.js'
import {type ChartRepo, startChartRepo} from '../helpers/chart-repo.js'
import {freePort} from '../helpers/processes.js'

export const FAKE_BIN = fileURLToPath(new URL('../fakes/bin', import.meta.url))
/** A token in BotFather's format, accepted by the fake Telegram. */
export const TEST_TOKEN = '123456789:AAH-test_token_for_keda_lab_e2e_0123456'

export interface LabOptions {
  kind?: 'minikube' | 'kind' | 'other'
  nodes?: number
  /** Allocatable per node. */
  cpu?: string
  memory?: string
  kedaCrd?: boolean
  metricsApi?: boolean
  defaultStorageClass?: boolean
  /** Seed the app's Deployments as rolled out (the fake helm does not create objects). */
  appDeployments?: boolean
}

export interface ToolCall {
  bin: string
  argv: string[]
  event?: string
}

export interface Lab {
  api: FakeKubeApi
  telegram: FakeTelegram
  /** The (empty) chart repository the pinned repositories point at (KEDA_LAB_CHART_REPO). */
  chartRepo: ChartRepo
  dir: string
  kubeconfig: string
  logFile: string
  outputDir: string
  /** Environment for runCli: PATH with the fakes first, KUBECONFIG, TELEGRAM_API_URL, the argv log. */
  env: NodeJS.ProcessEnv
  calls(): ToolCall[]
  /** Every file under outputDir with its content. */
  writtenFiles(): {path: string; content: string}[]
  close(): Promise<void>
}

/** Starts the fakes and seeds the cluster. */
export async function startLab(options: LabOptions = {}): Promise<Lab> {
  const kind = options.kind ?? 'minikube'
  const api = await startFakeKubeApi()
  const telegram = await startFakeTelegram({token: TEST_TOKEN, username: 'keda_lab_test_bot'})
  const chartRepo = await startChartRepo({charts: [], listPinned: true}).catch(async (error: unknown) => {
    await Promise.allSettled([api.close(), telegram.close()])
    throw error
  })
  const dir = mkdtempSync(join(tmpdir(), 'keda-lab-install-'))
  const context = kind === 'minikube' ? 'minikube' : kind === 'kind' ? 'kind-lab' : 'prod-cluster'
  const kubeconfig = writeKubeconfig(join(dir, 'kube'), api, context)
  const logFile = join(dir, 'tools.log')

  const nodeCount = options.nodes ?? 1
  for (let i = 0; i < nodeCount; i++) {
    const name =
      kind === 'minikube'
        ? i === 0
          ? 'minikube'
          : `minikube-m0${i + 1}`
        : kind === 'kind'
          ? i === 0
            ? 'lab-control-plane'
            : `lab-worker${i === 1 ? '' : i}`
          : `node-${i}`
    api.put({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {name, labels: {'kubernetes.io/hostname': name, ...(kind === 'minikube' ? {'minikube.k8s.io/name': 'minikube'} : {})}},
      status: {allocatable: {cpu: options.cpu ?? '8', memory: options.memory ?? '16Gi'}},
    })
  }
  if (options.defaultStorageClass ?? true) {
    api.put({
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: {name: 'standard', annotations: {'storageclass.kubernetes.io/is-default-class': 'true'}},
      provisioner: 'k8s.io/minikube-hostpath',
    })
  }
  if (options.metricsApi ?? true) {
    api.put({
      apiVersion: 'apiregistration.k8s.io/v1',
      kind: 'APIService',
      metadata: {name: 'v1beta1.metrics.k8s.io'},
      spec: {group: 'metrics.k8s.io', version: 'v1beta1'},
      status: {conditions: [{type: 'Available', status: 'True'}]},
    })
  }
  if (options.kedaCrd) {
    api.put({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: {name: 'scaledobjects.keda.sh'},
      spec: {
        group: 'keda.sh',
        names: {kind: 'ScaledObject', plural: 'scaledobjects'},
        scope: 'Namespaced',
        versions: [{name: 'v1alpha1', served: true, storage: true}],
      },
    })
    // The KEDA that owns those CRDs runs in its own namespace, as a team's shared KEDA would.
    api.put({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {name: 'keda-operator', namespace: 'keda-system', labels: {app: 'keda-operator'}},
      spec: {replicas: 1},
    })
  }
  if (options.appDeployments ?? true) {
    for (const component of ['api', 'worker', 'webhook']) {
      api.put({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: {
          name: `keda-lab-${component}`,
          namespace: 'keda',
          labels: {'app.kubernetes.io/instance': 'keda-lab', 'app.kubernetes.io/component': component},
        },
        spec: {replicas: 1},
        status: {replicas: 1, readyReplicas: 1, updatedReplicas: 1, availableReplicas: 1},
      })
    }
  }

  const outputDir = join(dir, 'out')
  const env: NodeJS.ProcessEnv = {
    PATH: `${FAKE_BIN}:${dirname(process.execPath)}:/usr/bin:/bin`,
    KUBECONFIG: kubeconfig,
    HOME: dir,
    TELEGRAM_API_URL: telegram.url,
    FAKE_BIN_LOG: logFile,
    KEDA_LAB_OUTPUT: outputDir,
    KEDA_LAB_CHART_REPO: chartRepo.chartRepoEnv(),
    // Pre-flight asks an image's registry whether it exists: here a closed loopback port (the check
    // warns and goes on), never ghcr.io; a test that wants real answers points it at a real registry.
    KEDA_LAB_REGISTRY_MIRROR: `http://127.0.0.1:${await freePort()}`,
  }
  // Never inherit the developer's own answers.
  for (const key of Object.keys(process.env)) if (key.startsWith('KEDA_LAB_') && !(key in env)) env[key] = ''

  return {
    api,
    telegram,
    chartRepo,
    dir,
    kubeconfig,
    logFile,
    outputDir,
    env,
    calls: () =>
      existsSync(logFile)
        ? readFileSync(logFile, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as ToolCall)
        : [],
    writtenFiles() {
      const out: {path: string; content: string}[] = []
      const walk = (d: string) => {
        if (!existsSync(d)) return
        for (const name of readdirSync(d)) {
          const p = join(d, name)
          if (statSync(p).isDirectory()) walk(p)
          else out.push({path: p, content: readFileSync(p, 'utf8')})
        }
      }
      walk(outputDir)
      return out
    },
    async close() {
      await Promise.allSettled([api.close(), telegram.close(), chartRepo.close()])
      rmSync(dir, {recursive: true, force: true})
    },
  }
}

/** The answers that make a non-interactive install complete. */
export const BASE_ARGS = ['--yes', '--telegram-token', TEST_TOKEN, '--telegram-chat-id', '123456789']

/** Decoded data of a Secret stored in the fake API. */
export function secretData(api: FakeKubeApi, namespace: string, name: string): Record<string, string> | undefined {
  const secret = api.get('v1', 'Secret', name, namespace)
  if (!secret) return undefined
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries((secret.data ?? {}) as Record<string, string>)) out[k] = Buffer.from(v, 'base64').toString('utf8')
  for (const [k, v] of Object.entries((secret.stringData ?? {}) as Record<string, string>)) out[k] = v
  return out
}
