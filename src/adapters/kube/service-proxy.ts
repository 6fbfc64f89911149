/** One HTTP request to a Service through the API server's service proxy (Prometheus, Alertmanager, the webhook, without a port-forward). */
import type {KubeClient} from './client.js'
import type {Kube} from './types.js'

/** The service proxy method, answered through `c`. */
export function serviceProxyMethods(c: KubeClient): Pick<Kube, 'proxyService'> {
  return {
    async proxyService(request) {
      const target = request.port === undefined ? request.service : `${request.service}:${request.port}`
      const query = request.query && Object.keys(request.query).length > 0 ? `?${new URLSearchParams(request.query).toString()}` : ''
      const path = `/api/v1/namespaces/${encodeURIComponent(request.namespace)}/services/${encodeURIComponent(target).replace('%3A', ':')}/proxy${request.path.startsWith('/') ? '' : '/'}${request.path}${query}`
      try {
        return await c.raw(request.method ?? 'GET', path, request.body, request.headers)
      } catch (error) {
        return c.fail(`reach service ${request.namespace}/${request.service} through the API server proxy`, error)
      }
    },
  }
}
