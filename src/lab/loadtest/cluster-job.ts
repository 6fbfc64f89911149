/**
 * `loadtest --runner cluster --parallel N`: the Kubernetes Indexed Job that runs the load inside
 * the cluster. Pure: it builds the manifest from options; cluster-runner.ts creates it through the
 * Kube adapter and follows it.
 *
 * Each of the N pods runs the lab's own image as `keda-lab loadtest --runner local --shard i/N
 * --json …`; `i` is the pod's completion index, which Kubernetes expands into the arguments from
 * the `JOB_COMPLETION_INDEX` variable (declared here from the pod's completion-index annotation, so
 * the manifest says where it comes from). The engine's `--shard` takes the pod's slice of the
 * iterations, VUs or arrival schedule; the pod prints its summary (with the encoded HDR histograms)
 * as JSON on stdout, which keda-lab reads from the pod's log and merges (merge.ts).
 *
 * The pods meet Pod Security `restricted` (non-root, no privilege escalation, every capability
 * dropped, RuntimeDefault seccomp, read-only root filesystem with an emptyDir /tmp) and carry no
 * ServiceAccount token: they only send HTTP to the API.
 */

/** Resource requests and limits of one load pod (Kubernetes quantities). */
export interface ShardResources {
  requests: {cpu: string; memory: string}
  limits: {cpu: string; memory: string}
}

/**
 * One shard is one Node process, so it drives at most one core: request half of one so that the
 * scheduler spreads the shards over nodes with room, let it burst to a whole core, and cap memory
 * (the engine's histograms are bounded).
 */
export const DEFAULT_SHARD_RESOURCES: ShardResources = {
  requests: {cpu: '500m', memory: '192Mi'},
  limits: {cpu: '1', memory: '512Mi'},
}

/** Finished Jobs (and their pods, with the logs keda-lab read) are removed after this long. */
export const DEFAULT_TTL_SECONDS_AFTER_FINISHED = 600

/** The label every load-test Job and pod carries, valued with the run's id. */
export const RUN_LABEL = 'keda-lab.io/loadtest-run'

/** The label and annotation the Job controller puts on each pod of an Indexed Job. */
export const COMPLETION_INDEX_LABEL = 'batch.kubernetes.io/job-completion-index'

/** The container's name (logs are read from it). */
export const SHARD_CONTAINER = 'loadtest'

/** The pods' user and group: the chart's (above 10000, see values.yaml's podSecurityContext). */
const RUN_AS = 10001

/** What the Job is built from. */
export interface LoadtestJobOptions {
  /** The Job's name (a DNS label; `keda-lab-loadtest-<runId>`, see jobName). */
  name: string
  namespace: string
  /** The lab's image (the one the API Deployment runs). */
  image: string
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never'
  /** Number of pods, each one shard. */
  parallel: number
  /** The run's id (labels, log lookups). */
  runId: string
  /**
   * The shard command's own arguments after `loadtest --runner local --shard i/N --json`: the
   * profile or executor flags, the target URL inside the cluster, the scenario's options. Never
   * --out, --threshold or --runner: the report and the thresholds are keda-lab's, on the merge.
   */
  args: string[]
  /** Hard limit on the Job's run time (the profile's duration plus its grace plus a margin). */
  activeDeadlineSeconds: number
  ttlSecondsAfterFinished?: number
  /**
   * How long a stopped pod (its Job deleted on Ctrl-C) gets before it is killed: the shard stops,
   * gives what is in flight its --stop-grace and prints its summary (default: Kubernetes' 30 s).
   */
  terminationGracePeriodSeconds?: number
  resources?: ShardResources
}

/** A Job's name for a run id: a DNS label of at most 63 characters. */
export function jobName(runId: string): string {
  return `keda-lab-loadtest-${runId}`.toLowerCase().slice(0, 63).replace(/-+$/, '')
}

/** The batch/v1 Job manifest (a plain object, as the API takes it). */
export function buildLoadtestJob(options: LoadtestJobOptions): Record<string, unknown> {
  const {parallel} = options
  if (!Number.isInteger(parallel) || parallel < 1) throw new RangeError(`parallel must be a whole number ≥ 1, got ${parallel}`)
  const labels = {
    'app.kubernetes.io/name': 'keda-lab',
    'app.kubernetes.io/component': 'loadtest',
    'app.kubernetes.io/managed-by': 'keda-lab',
    [RUN_LABEL]: options.runId,
  }
  const resources = options.resources ?? DEFAULT_SHARD_RESOURCES
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {name: options.name, namespace: options.namespace, labels},
    spec: {
      completionMode: 'Indexed',
      completions: parallel,
      parallelism: parallel,
      // A shard that failed is reported, never run again: a second attempt would send its load twice.
      backoffLimit: 0,
      activeDeadlineSeconds: options.activeDeadlineSeconds,
      ttlSecondsAfterFinished: options.ttlSecondsAfterFinished ?? DEFAULT_TTL_SECONDS_AFTER_FINISHED,
      template: {
        metadata: {labels},
        spec: {
          restartPolicy: 'Never',
          ...(options.terminationGracePeriodSeconds !== undefined ? {terminationGracePeriodSeconds: options.terminationGracePeriodSeconds} : {}),
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: RUN_AS,
            runAsGroup: RUN_AS,
            fsGroup: RUN_AS,
            seccompProfile: {type: 'RuntimeDefault'},
          },
          containers: [
            {
              name: SHARD_CONTAINER,
              image: options.image,
              ...(options.imagePullPolicy ? {imagePullPolicy: options.imagePullPolicy} : {}),
              // The image's entrypoint is `keda-lab`.
              args: ['loadtest', '--runner', 'local', '--shard', `$(JOB_COMPLETION_INDEX)/${parallel}`, '--json', ...options.args],
              env: [
                {name: 'JOB_COMPLETION_INDEX', valueFrom: {fieldRef: {fieldPath: `metadata.annotations['${COMPLETION_INDEX_LABEL}']`}}},
                // No colours or live view in a log.
                {name: 'NO_COLOR', value: '1'},
              ],
              resources,
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                runAsNonRoot: true,
                capabilities: {drop: ['ALL']},
                seccompProfile: {type: 'RuntimeDefault'},
              },
              volumeMounts: [{name: 'tmp', mountPath: '/tmp'}],
            },
          ],
          volumes: [{name: 'tmp', emptyDir: {sizeLimit: '64Mi'}}],
        },
      },
    },
  }
}
