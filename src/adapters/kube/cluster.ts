/** Questions about the cluster itself: version, nodes, permissions, storage, CRDs, APIServices (install pre-flight, doctor). */
import type {KubeClient} from './client.js'
import {parseCpuMillis, parseMemoryBytes} from './quantity.js'
import type {Kube} from './types.js'

type ClusterMethods = Pick<Kube, 'serverVersion' | 'listNodes' | 'canI' | 'listStorageClasses' | 'listCrdNames' | 'apiServiceAvailable'>

/** The cluster-wide questions, answered through `c`. */
export function clusterMethods(c: KubeClient): ClusterMethods {
  const {must, orNotFound} = c
  return {
    async serverVersion() {
      const info = await must('read the server version', () => c.version.getCode())
      return {major: Number.parseInt(info.major, 10), minor: Number.parseInt(info.minor, 10), gitVersion: info.gitVersion}
    },

    async listNodes() {
      const list = await must('list nodes', () => c.core.listNode())
      return list.items.map((n) => ({
        name: n.metadata?.name ?? '',
        cpuMillis: parseCpuMillis(n.status?.allocatable?.cpu),
        memoryBytes: parseMemoryBytes(n.status?.allocatable?.memory),
        labels: n.metadata?.labels ?? {},
      }))
    },

    async canI(verb, group, resource, namespace) {
      const review = await must(`check permission to ${verb} ${resource}`, () =>
        c.authz.createSelfSubjectAccessReview({
          body: {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SelfSubjectAccessReview',
            spec: {resourceAttributes: {verb, group, resource, ...(namespace ? {namespace} : {})}},
          },
        }),
      )
      return review.status?.allowed === true
    },

    async listStorageClasses() {
      const list = await must('list storage classes', () => c.storage.listStorageClass())
      return list.items.map((sc) => {
        const a = sc.metadata?.annotations ?? {}
        return {
          name: sc.metadata?.name ?? '',
          provisioner: sc.provisioner,
          isDefault: a['storageclass.kubernetes.io/is-default-class'] === 'true' || a['storageclass.beta.kubernetes.io/is-default-class'] === 'true',
        }
      })
    },

    async listCrdNames() {
      const list = await must('list CustomResourceDefinitions', () => c.apiext.listCustomResourceDefinition())
      return list.items.map((crd) => crd.metadata?.name ?? '').filter(Boolean)
    },

    async apiServiceAvailable(name) {
      const svc = await orNotFound(`read APIService ${name}`, () => c.apireg.readAPIService({name}))
      return svc?.status?.conditions?.some((cond) => cond.type === 'Available' && cond.status === 'True') ?? false
    },
  }
}
