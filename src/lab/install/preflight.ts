/**
 * Install pre-flight: the facts are read from the cluster once (read-only), then each check is data
 * (src/lab/checks.ts) that judges those facts and says how to fix what fails.
 */
import {type Kube, type NodeInfo, resources, type StorageClassInfo} from '../../adapters/kube/index.js'
import type {HelmVersion} from '../../adapters/helm.js'
import {type ClusterKind, detectClusterKind} from '../../adapters/cluster-tools.js'
import {parseImageReference} from '../../adapters/registry.js'
import {PACKAGE_ROOT} from '../../config/package.js'
import type {TokenCheck} from '../../adapters/telegram.js'
import {OFFLINE_HINT, type RepositoryProbe} from '../chart-sources.js'
import type {Check} from '../checks.js'
import type {ImageFacts} from './image.js'
import type {InstallAnswers} from './options.js'
import {estimateResources, formatCpu, formatMemory} from './resources.js'

/**
 * Hard minimum: the app chart's API autoscaler is an autoscaling/v2 HorizontalPodAutoscaler, GA in
 * Kubernetes 1.23 (and KEDA itself creates autoscaling/v2 HPAs); older clusters cannot take it.
 */
export const MIN_KUBERNETES = {major: 1, minor: 23}
/**
 * Soft minimum: KEDA's compatibility table gives each release the three newest Kubernetes minors at
 * its release; for the pinned KEDA 2.18 that is 1.31–1.33. Older clusters get a warning, not a stop.
 */
export const KEDA_TESTED_KUBERNETES = {major: 1, minor: 31}

export const KEDA_CRD = 'scaledobjects.keda.sh'
export const METRICS_API_SERVICE = 'v1beta1.metrics.k8s.io'
/**
 * The metrics-server release the hint installs: the one the lab's tests run (scripts/build-kube-tools.sh
 * builds it for the test control plane, where the API's HPA is scaled for real). Pinned, not `latest`:
 * a later release may need a newer Kubernetes or change its flags.
 */
export const METRICS_SERVER_RELEASE = 'v0.9.0'

/** What pre-flight learned about the cluster and the tools. */
export interface InstallFacts {
  helm?: HelmVersion
  helmError?: string
  reachable: boolean
  reachError?: string
  contextName: string
  server: string
  serverVersion?: {major: number; minor: number; gitVersion: string}
  nodes: NodeInfo[]
  storageClasses: StorageClassInfo[]
  crds: string[]
  /** Namespace of the KEDA operator already in the cluster (when KEDA's CRDs exist), if found. */
  kedaNamespace?: string
  /** The Helm release (meta.helm.sh annotations) that installed that operator, if Helm did. */
  kedaRelease?: {name: string; namespace: string}
  /** The app namespace of this install (whose `keda` release is keda-lab's own KEDA). */
  appNamespace?: string
  /** LoadBalancer Services in the cluster, and whether the cluster gave them addresses. */
  loadBalancers?: {total: number; withAddress: number}
  metricsApi: boolean
  canCreateNamespaces: boolean
  canCreateCrds: boolean
  cluster: {kind: ClusterKind; name?: string}
  telegram?: TokenCheck
  /** The chart repositories the install still needs, probed (empty: every chart from --charts). */
  chartRepositories?: RepositoryProbe[]
  /** The image the cluster will pull, asked of its registry (undefined: built into the cluster). */
  image?: ImageFacts
}

/** The facts before anything was read: nothing reachable, nothing found. */
export function unknownFacts(kube: Pick<Kube, 'contextName' | 'server'>): InstallFacts {
  return {
    reachable: false,
    contextName: kube.contextName,
    server: kube.server,
    nodes: [],
    storageClasses: [],
    crds: [],
    metricsApi: false,
    canCreateNamespaces: false,
    canCreateCrds: false,
    cluster: {kind: 'other'},
  }
}

/** Reads every fact; a cluster that cannot be reached leaves the cluster facts empty. */
export async function gatherFacts(deps: {
  kube: Kube
  helmVersion: () => Promise<HelmVersion>
  checkTelegram?: () => Promise<TokenCheck | undefined>
  /** The install's app namespace: tells keda-lab's own KEDA release from a foreign KEDA. */
  appNamespace?: string
  /** Probes the chart repositories the install needs, given what is known of the cluster (its CRDs). */
  probeChartRepositories?: (facts: InstallFacts) => Promise<RepositoryProbe[]>
  /** Asks the registry of the image the cluster will pull, given the cluster's kind (undefined: nothing pulled). */
  checkImage?: (facts: InstallFacts) => Promise<ImageFacts | undefined>
}): Promise<InstallFacts> {
  const {kube} = deps
  const facts: InstallFacts = {...unknownFacts(kube), appNamespace: deps.appNamespace}
  try {
    facts.helm = await deps.helmVersion()
  } catch (error) {
    facts.helmError = (error as Error).message
  }
  try {
    facts.serverVersion = await kube.serverVersion()
    facts.reachable = true
  } catch (error) {
    facts.reachError = (error as Error).message
  }
  if (facts.reachable) {
    const [nodes, storageClasses, crds, metricsApi, canNs, canCrd] = await Promise.all([
      kube.listNodes(),
      kube.listStorageClasses(),
      kube.listCrdNames(),
      kube.apiServiceAvailable(METRICS_API_SERVICE),
      kube.canI('create', '', 'namespaces'),
      kube.canI('create', 'apiextensions.k8s.io', 'customresourcedefinitions'),
    ])
    Object.assign(facts, {nodes, storageClasses, crds, metricsApi, canCreateNamespaces: canNs, canCreateCrds: canCrd})
    facts.cluster = detectClusterKind(kube.contextName, nodes)
    if (crds.includes(KEDA_CRD)) {
      // A reused KEDA may run in another namespace: the app's Redis NetworkPolicy must let it in.
      const [operator] = await kube.listObjects(resources.deployments, 'app=keda-operator')
      facts.kedaNamespace = operator?.namespace
      const a = operator?.annotations ?? {}
      const release = a['meta.helm.sh/release-name']
      if (release) facts.kedaRelease = {name: release, namespace: a['meta.helm.sh/release-namespace'] ?? operator?.namespace ?? ''}
    }
    const lbs = await kube.listLoadBalancers()
    facts.loadBalancers = {total: lbs.length, withAddress: lbs.filter((lb) => lb.addresses.length > 0).length}
  }
  const [telegram, chartRepositories, image] = await Promise.all([deps.checkTelegram?.(), deps.probeChartRepositories?.(facts), deps.checkImage?.(facts)])
  facts.telegram = telegram
  facts.chartRepositories = chartRepositories
  facts.image = image
  return facts
}

/** The release name keda-lab gives its own KEDA (in the app namespace). */
export const KEDA_RELEASE = 'keda'

/**
 * Does install reuse a KEDA that is already in the cluster? Only a FOREIGN one: an operator that is
 * not keda-lab's own `keda` release in the app namespace (that one is upgraded like every other
 * release). KEDA's CRDs without any operator (left by an uninstall: Helm keeps CRDs) are no KEDA to
 * reuse either: install puts KEDA in.
 */
export function reusesForeignKeda(facts: Pick<InstallFacts, 'crds' | 'kedaNamespace' | 'kedaRelease'>, appNamespace: string): boolean {
  if (!facts.crds.includes(KEDA_CRD) || !facts.kedaNamespace) return false
  const own = facts.kedaRelease?.name === KEDA_RELEASE && facts.kedaRelease.namespace === appNamespace
  return !own
}

export interface PreflightContext {
  facts: InstallFacts
  answers: InstallAnswers
}

const unreachable = {status: 'skip' as const, detail: 'cluster not reachable'}

/** The install pre-flight checks, in order. */
export const PREFLIGHT_CHECKS: readonly Check<PreflightContext>[] = [
  {
    id: 'helm',
    category: 'tools',
    title: 'helm present (major version 3 or 4)',
    fatal: true,
    hint: 'install Helm 3 or 4 from https://helm.sh/docs/intro/install/',
    async run({facts}) {
      if (!facts.helm) return {status: 'fail', detail: facts.helmError ?? 'helm not found'}
      return {
        status: 'pass',
        detail: `helm ${facts.helm.version} (Helm ${facts.helm.major}: ${facts.helm.major === 4 ? '--rollback-on-failure, --wait=watcher' : '--atomic, --wait'})`,
      }
    },
  },
  {
    id: 'cluster-reachable',
    category: 'cluster',
    title: 'cluster reachable',
    fatal: true,
    hint: 'start the cluster (`minikube start`, `kind create cluster`) or pick a context with --context; `kubectl cluster-info` shows what is wrong',
    async run({facts}) {
      if (!facts.reachable) return {status: 'fail', detail: `context ${facts.contextName} (${facts.server}): ${facts.reachError ?? 'no answer'}`}
      return {status: 'pass', detail: `context ${facts.contextName} at ${facts.server}`}
    },
  },
  {
    id: 'kubernetes-version',
    category: 'cluster',
    title: `Kubernetes version (at least ${MIN_KUBERNETES.major}.${MIN_KUBERNETES.minor})`,
    fatal: true,
    async run({facts}) {
      const v = facts.serverVersion
      if (!v) return unreachable
      const below = (min: {major: number; minor: number}) => v.major < min.major || (v.major === min.major && v.minor < min.minor)
      if (below(MIN_KUBERNETES)) {
        return {
          status: 'fail',
          detail: `${v.gitVersion}: the charts need autoscaling/v2 and policy/v1`,
          hint: `upgrade the cluster to Kubernetes ${KEDA_TESTED_KUBERNETES.major}.${KEDA_TESTED_KUBERNETES.minor} or newer (minikube start --kubernetes-version=stable)`,
        }
      }
      if (below(KEDA_TESTED_KUBERNETES)) {
        return {
          status: 'warn',
          detail: `${v.gitVersion}: older than KEDA 2.18's tested range (1.31–1.33)`,
          hint: 'it will probably work; for a supported setup use Kubernetes 1.31 or newer',
        }
      }
      return {status: 'pass', detail: v.gitVersion}
    },
  },
  {
    id: 'permissions',
    category: 'cluster',
    title: 'permission to create namespaces and CRDs',
    fatal: true,
    hint: 'use a cluster-admin context (KEDA and kube-prometheus-stack install CustomResourceDefinitions)',
    async run({facts}) {
      if (!facts.reachable) return unreachable
      const missing = [!facts.canCreateNamespaces && 'namespaces', !facts.canCreateCrds && 'customresourcedefinitions'].filter(Boolean)
      if (missing.length > 0) return {status: 'fail', detail: `not allowed to create ${missing.join(' and ')}`}
      return {status: 'pass', detail: 'may create namespaces and customresourcedefinitions'}
    },
  },
  {
    id: 'cluster-kind',
    category: 'cluster',
    title: 'cluster kind',
    async run({facts}) {
      if (!facts.reachable) return unreachable
      const {kind, name} = facts.cluster
      const nodes = `${facts.nodes.length} node${facts.nodes.length === 1 ? '' : 's'}`
      const how = facts.image ? `pulls ${facts.image.ref}` : 'the image is built into it'
      return {status: 'pass', detail: `${kind}${name ? ` (${name})` : ''}, ${nodes}: ${how}`}
    },
  },
  {
    id: 'image',
    category: 'cluster',
    title: 'application image',
    // Fatal when the registry says no: the pods would sit in ImagePullBackOff minutes into the rollout.
    fatal: true,
    async run({facts}) {
      const image = facts.image
      if (!image) return {status: 'skip', detail: 'built into the cluster from this package (minikube/kind)'}
      const secretHint = (registry: string) =>
        `kubectl create secret docker-registry <name> -n <namespace> --docker-server=${registry} --docker-username=<user> --docker-password=<token>, then install with --image-pull-secret <name>`
      const registry = parseImageReference(image.ref).registry
      if (image.pullSecret && !image.pullSecret.found) {
        return {status: 'fail', detail: `pull secret ${image.pullSecret.name} not found in the app namespace`, hint: secretHint(registry)}
      }
      if (image.pullSecret && !image.pullSecret.hasCredentials) {
        return {
          status: 'fail',
          detail: `pull secret ${image.pullSecret.name} has no credentials for ${registry} (a kubernetes.io/dockerconfigjson Secret with an auths entry for it)`,
          hint: secretHint(registry),
        }
      }
      const asked = image.mirror ? ` (asked ${image.mirror})` : ''
      const other =
        image.source === 'published'
          ? `build and push the image yourself and pass it: docker build -t <registry>/<you>/keda-lab:<tag> ${PACKAGE_ROOT} && docker push <registry>/<you>/keda-lab:<tag>, then install --image <registry>/<you>/keda-lab:<tag>; or install on minikube/kind, where keda-lab builds its image from this package`
          : 'check the name and tag (docker manifest inspect <image>)'
      switch (image.check.status) {
        case 'found':
          return {status: 'pass', detail: `${image.ref} exists${image.check.digest ? ` (${image.check.digest.slice(0, 19)}…)` : ''}${asked}`}
        case 'missing': {
          // The default image is named before it is published (the release workflow pushes it on a
          // version tag): say so, rather than leave "does not exist" to look like a typo of the user's.
          const why = image.source === 'published' ? ': no image of this keda-lab version is published under that name' : ''
          return {status: 'fail', detail: `${image.ref} does not exist: ${image.check.detail}${asked}${why}`, hint: other}
        }
        case 'denied':
          return {
            status: 'fail',
            detail: `${image.ref}: ${image.check.detail}${asked}`,
            hint: image.pullSecret ? secretHint(registry) : `if the image is private: ${secretHint(registry)}; otherwise ${other}`,
          }
        default:
          // Offline, or a registry this machine cannot reach: the cluster pulls for itself, and may reach it.
          return {
            status: 'warn',
            detail: `could not check ${image.ref}: ${image.check.detail}${asked}`,
            hint: 'the cluster pulls the image itself, so the install goes on; if this machine needs a mirror to reach registries, set KEDA_LAB_REGISTRY_MIRROR',
          }
      }
    },
  },
  {
    id: 'storage-class',
    category: 'cluster',
    title: 'StorageClass (Redis and Loki persistence)',
    fatal: true,
    async run({facts, answers}) {
      if (!answers.redisPersistence) return {status: 'skip', detail: 'persistence off (--no-redis-persistence)'}
      if (!facts.reachable) return unreachable
      const describe = (s: {name: string; provisioner: string; isDefault: boolean}) => `${s.name} (${s.provisioner}${s.isDefault ? ', default' : ''})`
      if (answers.storageClass) {
        const named = facts.storageClasses.find((s) => s.name === answers.storageClass)
        if (named) return {status: 'pass', detail: `${describe(named)}, asked with --storage-class`}
        return {
          status: 'fail',
          detail: `StorageClass ${answers.storageClass} does not exist; ${facts.storageClasses.length ? `the cluster has ${facts.storageClasses.map(describe).join(', ')}` : 'the cluster has no StorageClass at all'}`,
          hint: facts.storageClasses.length
            ? `pass one of those with --storage-class NAME (kubectl get storageclass), or install with --no-redis-persistence`
            : 'create a StorageClass whose provisioner runs in this cluster, or install with --no-redis-persistence',
        }
      }
      const def = facts.storageClasses.find((s) => s.isDefault)
      if (!def) {
        return {
          status: 'fail',
          detail: facts.storageClasses.length ? `no default among ${facts.storageClasses.map((s) => s.name).join(', ')}` : 'no StorageClass at all',
          hint: facts.storageClasses.length
            ? 'pick one with --storage-class NAME, or mark one as default (kubectl patch storageclass <name> -p \'{"metadata":{"annotations":{"storageclass.kubernetes.io/is-default-class":"true"}}}\'), or install with --no-redis-persistence'
            : 'create a StorageClass whose provisioner runs in this cluster (and pass it with --storage-class NAME), or install with --no-redis-persistence',
        }
      }
      return {status: 'pass', detail: `${def.name} (${def.provisioner}), the cluster's default`}
    },
  },
  {
    id: 'metrics-server',
    category: 'cluster',
    title: "metrics-server (the API's HPA)",
    async run({facts}) {
      if (!facts.reachable) return unreachable
      if (facts.metricsApi) return {status: 'pass', detail: `${METRICS_API_SERVICE} available`}
      if (facts.cluster.kind === 'minikube') {
        return {
          status: 'warn',
          detail: `${METRICS_API_SERVICE} missing: install enables the minikube addon`,
          hint: `minikube addons enable metrics-server -p ${facts.cluster.name ?? 'minikube'}`,
        }
      }
      return {
        status: 'warn',
        detail: `${METRICS_API_SERVICE} missing: the API's HPA cannot read CPU usage`,
        hint: `kubectl apply -f https://github.com/kubernetes-sigs/metrics-server/releases/download/${METRICS_SERVER_RELEASE}/components.yaml`,
      }
    },
  },
  {
    id: 'resources',
    category: 'cluster',
    title: 'CPU and memory for the chosen profile',
    fatal: true,
    async run({facts, answers}) {
      if (!facts.reachable) return unreachable
      const est = estimateResources(answers, {nodeCount: facts.nodes.length, kedaInstalled: facts.crds.includes(KEDA_CRD)})
      const cpu = facts.nodes.reduce((s, n) => s + n.cpuMillis, 0)
      const mem = facts.nodes.reduce((s, n) => s + n.memoryBytes, 0)
      const have = `allocatable ${formatCpu(cpu)} CPU, ${formatMemory(mem)}`
      const atMin = `${formatCpu(est.min.cpuMillis)} CPU, ${formatMemory(est.min.memoryBytes)} requested at minimum replicas`
      if (cpu < est.min.cpuMillis || mem < est.min.memoryBytes) {
        return {
          status: 'fail',
          detail: `${have}; ${atMin}`,
          hint: 'give the cluster more (minikube start --cpus 4 --memory 8g), or lower --redis-replicas / --worker-min-replicas, or use --no-monitoring',
        }
      }
      if (cpu < est.max.cpuMillis || mem < est.max.memoryBytes) {
        return {
          status: 'warn',
          detail: `${have}; at maximum replicas ${formatCpu(est.max.cpuMillis)} CPU, ${formatMemory(est.max.memoryBytes)} would not fit`,
          hint: 'scale-ups will leave pods Pending before the maximum: lower --worker-max-replicas / --api-max-replicas or add capacity',
        }
      }
      return {status: 'pass', detail: `${have}; up to ${formatCpu(est.max.cpuMillis)} CPU, ${formatMemory(est.max.memoryBytes)} needed at maximum replicas`}
    },
  },
  {
    id: 'load-balancer',
    category: 'cluster',
    title: 'how the API is reached',
    async run({facts, answers}) {
      if (answers.expose === 'NodePort') return {status: 'pass', detail: 'NodePort service'}
      if (answers.expose === 'Ingress') return {status: 'pass', detail: `Ingress for ${answers.ingressHost} (needs an ingress controller)`}
      if (!facts.reachable) return unreachable
      // Install never waits on the LoadBalancer's address (it waits for the pods), so none of these stop it.
      const elsewhere = 'install does not wait for the address; reach the API meanwhile with `kubectl port-forward` or install with --expose NodePort'
      if (facts.cluster.kind === 'minikube') {
        return {
          status: 'warn',
          detail: 'minikube gives LoadBalancer services an address only while a tunnel runs',
          hint: 'run `minikube tunnel` in another terminal after install',
        }
      }
      if (facts.cluster.kind === 'kind') {
        return {
          status: 'warn',
          detail: 'kind has no LoadBalancer implementation: the API service stays <pending>',
          hint: 'install with --expose NodePort, or run cloud-provider-kind',
        }
      }
      const lbs = facts.loadBalancers ?? {total: 0, withAddress: 0}
      if (lbs.withAddress > 0)
        return {status: 'pass', detail: `LoadBalancer (${lbs.withAddress} of ${lbs.total} LoadBalancer services in the cluster have an address)`}
      if (lbs.total > 0) {
        return {
          status: 'warn',
          detail: `no LoadBalancer service in the cluster has an address (${lbs.total} pending): the API's will most likely stay <pending>`,
          hint: elsewhere,
        }
      }
      return {status: 'warn', detail: 'cannot tell whether this cluster assigns LoadBalancer addresses (no LoadBalancer service exists yet)', hint: elsewhere}
    },
  },
  {
    id: 'existing-keda',
    category: 'cluster',
    title: 'existing KEDA',
    async run({facts}) {
      if (!facts.reachable) return unreachable
      const ns = facts.appNamespace ?? 'keda'
      if (reusesForeignKeda(facts, ns)) {
        const by = facts.kedaRelease ? `, Helm release ${facts.kedaRelease.namespace}/${facts.kedaRelease.name}` : ''
        return {
          status: 'pass',
          detail: `a KEDA that keda-lab did not install runs in namespace ${facts.kedaNamespace}${by}: reusing it (release ${KEDA_RELEASE} skipped; a second KEDA would break both)`,
        }
      }
      if (facts.kedaNamespace) return {status: 'pass', detail: `keda-lab's own KEDA (release ${ns}/${KEDA_RELEASE}): upgraded in place`}
      if (facts.crds.includes(KEDA_CRD)) return {status: 'pass', detail: `${KEDA_CRD} exists but no KEDA operator runs: KEDA will be installed`}
      return {status: 'pass', detail: 'none: KEDA will be installed'}
    },
  },
  {
    id: 'chart-repositories',
    category: 'network',
    title: 'chart repositories reachable',
    // Failing here, before anything changes, instead of at `helm repo update` in the middle of the plan.
    fatal: true,
    hint: OFFLINE_HINT,
    async run({facts}) {
      const probes = facts.chartRepositories
      if (!probes) return {status: 'skip', detail: 'not checked'}
      if (probes.length === 0) return {status: 'pass', detail: 'none needed: every chart comes from the --charts folder'}
      const down = probes.filter((p) => !p.ok)
      const proxy = down[0]?.bypassedProxy
      if (proxy && down.every((p) => p.bypassedProxy)) {
        // Helm goes through the configured proxy; this probe did not: not a reason to stop.
        return {
          status: 'warn',
          detail: `not reachable without the proxy in ${proxy}, which helm uses: ${down.map((p) => p.name).join(', ')} not checked`,
          hint: `run with NODE_USE_ENV_PROXY=1 to probe through the proxy; if \`helm repo update\` then fails: ${OFFLINE_HINT}`,
        }
      }
      if (down.length > 0) {
        return {
          status: 'fail',
          detail: `cannot reach ${down.map((p) => `${p.name} (${p.error})`).join(', ')}: install from pulled charts with --charts DIR or from a mirror with --chart-repo NAME=URL`,
        }
      }
      // Reachable, but without a pinned version: the install would stop at that release, halfway.
      const lacking = probes.filter((p) => p.missing && p.missing.length > 0)
      if (lacking.length > 0) {
        const what = lacking.flatMap((p) =>
          (p.missing ?? []).map(
            (m) =>
              `${p.name} (${p.url}) has no ${m.chart} ${m.version}${m.newest ? ` (newest there: ${m.chart} ${m.newest})` : ` (it lists no ${m.chart} at all)`}`,
          ),
        )
        return {
          status: 'fail',
          detail: what.join('; '),
          hint: `this keda-lab installs exactly these versions: point --chart-repo ${lacking.map((p) => `${p.name}=URL`).join(' ')} at a repository or mirror that serves them, or pull them with \`keda-lab charts pull DIR\` where the upstream repositories are reachable and install with --charts DIR`,
        }
      }
      return {status: 'pass', detail: probes.map((p) => `${p.name} ${p.url}`).join(', ')}
    },
  },
  {
    id: 'telegram-token',
    category: 'configuration',
    title: 'Telegram bot token (getMe)',
    fatal: true,
    async run({facts, answers}) {
      if (!answers.webhook) return {status: 'skip', detail: 'webhook off: no Telegram alerts'}
      const check = facts.telegram
      if (!check) return {status: 'skip', detail: 'not checked'}
      if (check.status === 'valid') return {status: 'pass', detail: `bot @${check.username}`}
      if (check.status === 'invalid')
        return {status: 'fail', detail: check.reason, hint: 'copy the token again from @BotFather (/mybots → API Token) and pass it with --telegram-token'}
      return {
        status: 'warn',
        detail: `not checked: ${check.reason}`,
        hint: 'the webhook will report a wrong token at start-up; `keda-lab doctor` checks it again',
      }
    },
  },
]
