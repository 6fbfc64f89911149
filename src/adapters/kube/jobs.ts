/** Jobs and pod logs (`loadtest --runner cluster`: the Indexed Job of load shards, their summaries read from the logs). */
import type {KubeClient} from './client.js'
import type {JobInfo, Kube} from './types.js'

type JobMethods = Pick<Kube, 'createJob' | 'getJob' | 'deleteJob' | 'readPodLog' | 'followPodLog'>

const jobsPath = (namespace: string) => `/apis/batch/v1/namespaces/${encodeURIComponent(namespace)}/jobs`

/** The job methods, answered through `c` (raw JSON: the manifest is built as a plain object). */
export function jobMethods(c: KubeClient): JobMethods {
  const {must, orNotFound, rawJson, raw, rawStream} = c
  return {
    async createJob(namespace, manifest) {
      const name = (manifest.metadata as {name?: string} | undefined)?.name ?? '?'
      await must(`create Job ${namespace}/${name}`, () => rawJson('POST', jobsPath(namespace), manifest))
    },

    async getJob(namespace, name) {
      type RawJob = {
        metadata?: {name?: string}
        status?: {active?: number; succeeded?: number; failed?: number; conditions?: {type: string; status: string; reason?: string; message?: string}[]}
      }
      const job = (await orNotFound(`read Job ${namespace}/${name}`, () => rawJson('GET', `${jobsPath(namespace)}/${encodeURIComponent(name)}`))) as
        | RawJob
        | undefined
      if (!job) return undefined
      const info: JobInfo = {
        name: job.metadata?.name ?? name,
        active: job.status?.active ?? 0,
        succeeded: job.status?.succeeded ?? 0,
        failed: job.status?.failed ?? 0,
        conditions: (job.status?.conditions ?? []).map((x) => ({type: x.type, status: x.status, reason: x.reason, message: x.message})),
      }
      return info
    },

    async deleteJob(namespace, name, propagationPolicy = 'Background') {
      // Never orphan: the Job's pods go with it (the API's default for Jobs orphans them). Foreground
      // keeps the Job until its pods are gone, so the caller can tell when they have stopped. The
      // policy goes in the query: a DeleteOptions body alone was not applied (the real API server
      // orphaned the pods, test/cluster/loadtest-cluster.test.ts).
      const gone = await orNotFound(`delete Job ${namespace}/${name}`, () =>
        rawJson('DELETE', `${jobsPath(namespace)}/${encodeURIComponent(name)}?propagationPolicy=${propagationPolicy}`),
      )
      return gone !== undefined
    },

    async readPodLog(namespace, pod, container) {
      const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/log?container=${encodeURIComponent(container)}`
      const res = await must(`read the log of pod ${namespace}/${pod}`, () =>
        raw('GET', path, undefined, {Accept: '*/*'}).then((r) => {
          if (r.status < 200 || r.status >= 300) throw Object.assign(new Error(`HTTP ${r.status}`), {code: r.status, body: r.body})
          return r
        }),
      )
      return res.body
    },

    async followPodLog(namespace, pod, container, onText, signal) {
      const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/log?container=${encodeURIComponent(container)}&follow=true`
      // Not retried: a log that cannot be followed yet (the container has not started) is followed later by the caller.
      await rawStream(path, onText, signal).catch((error: unknown) => c.fail(`follow the log of pod ${namespace}/${pod}`, error))
    },
  }
}
