import type {K8sObject} from '../helpers/helm.js'

/**
 * A small evaluator of Kubernetes NetworkPolicy semantics (matchLabels selectors, numeric ports),
 * so that tests can state the policy the chart must enforce as "who may reach whom" rather than
 * as the shape of YAML. It follows the API's rules: a pod selected by no policy of a direction is
 * open in that direction; otherwise a connection is allowed when any rule of any selecting policy
 * admits both the peer and the port; an empty `from`/`to` admits every peer, absent `ports` every port.
 */

/** A pod in the cluster (namespace + labels), or a host outside it (external: true). */
export type Endpoint = {external?: false; namespace: string; labels: Record<string, string>} | {external: true}

type Selector = {matchLabels?: Record<string, string>; matchExpressions?: unknown[]}
type Peer = {podSelector?: Selector; namespaceSelector?: Selector; ipBlock?: {cidr: string}}
type Port = {protocol?: string; port?: number | string}
type Rule = {from?: Peer[]; to?: Peer[]; ports?: Port[]}
type PolicySpec = {podSelector: Selector; policyTypes?: string[]; ingress?: Rule[]; egress?: Rule[]}

function matches(selector: Selector | undefined, labels: Record<string, string>): boolean {
  if (!selector) return true
  if (selector.matchExpressions?.length) throw new Error('matchExpressions are not supported by this evaluator')
  return Object.entries(selector.matchLabels ?? {}).every(([key, value]) => labels[key] === value)
}

function namespaceLabels(namespace: string): Record<string, string> {
  // Every namespace carries this label (Kubernetes 1.21+); the chart selects namespaces by it.
  return {'kubernetes.io/metadata.name': namespace}
}

function peerMatches(peer: Peer, other: Endpoint, policyNamespace: string): boolean {
  if (other.external) return Boolean(peer.ipBlock && peer.ipBlock.cidr === '0.0.0.0/0')
  if (peer.ipBlock) return false
  if (peer.namespaceSelector) {
    if (!matches(peer.namespaceSelector, namespaceLabels(other.namespace))) return false
    return matches(peer.podSelector, other.labels)
  }
  // podSelector alone: pods of the policy's own namespace.
  return other.namespace === policyNamespace && matches(peer.podSelector, other.labels)
}

function portMatches(ports: Port[] | undefined, port: number, protocol: string): boolean {
  if (!ports || ports.length === 0) return true
  return ports.some((p) => (p.protocol ?? 'TCP') === protocol && (p.port === undefined || p.port === port))
}

/** Whether `from` may open a connection to `to` on `port`, given the rendered objects. */
export function allowed(objects: K8sObject[], releaseNamespace: string, from: Endpoint, to: Endpoint, port: number, protocol = 'TCP'): boolean {
  const policies = objects
    .filter((o) => o.kind === 'NetworkPolicy')
    .map((o) => ({namespace: o.metadata.namespace ?? releaseNamespace, spec: o.spec as PolicySpec}))

  const direction = (self: Endpoint, other: Endpoint, type: 'Ingress' | 'Egress'): boolean => {
    if (self.external) return true // outside the cluster: not governed by these policies
    const selecting = policies.filter(
      (p) => p.namespace === self.namespace && matches(p.spec.podSelector, self.labels) && (p.spec.policyTypes ?? ['Ingress']).includes(type),
    )
    if (selecting.length === 0) return true
    return selecting.some((p) =>
      (type === 'Ingress' ? p.spec.ingress : p.spec.egress)?.some((rule) => {
        const peers = type === 'Ingress' ? rule.from : rule.to
        const peerOk = !peers || peers.length === 0 || peers.some((peer) => peerMatches(peer, other, p.namespace))
        return peerOk && portMatches(rule.ports, port, protocol)
      }),
    )
  }
  return direction(from, to, 'Egress') && direction(to, from, 'Ingress')
}
