/** How a call to the API server is made and how its failure reads: retried, then one clear line. */
import {KedaLabError, NoClusterError} from '../../errors.js'
import {httpStatusOf, type RetryPolicy, withRetry} from './retry.js'

/** The API server's own message from an ApiException body (a Status object, raw or parsed). */
export function apiMessage(error: unknown): string {
  if (error && typeof error === 'object' && 'body' in error) {
    let body = (error as {body: unknown}).body
    if (typeof body === 'string') {
      try {
        body = JSON.parse(body)
      } catch {
        return (body as string).slice(0, 300)
      }
    }
    if (body && typeof body === 'object' && 'message' in body) return String((body as {message: unknown}).message)
  }
  if (error instanceof Error) {
    const cause = (error as Error & {cause?: unknown}).cause
    const code = cause && typeof cause === 'object' && 'code' in cause ? ` (${String((cause as {code: unknown}).code)})` : ''
    return error.message.split('\n')[0] + code
  }
  return String(error)
}

/** The call wrappers every concern uses (see KubeClient). */
export function makeCalls(server: string, contextName: string, retry: RetryPolicy) {
  /** Turns a failed call into one line naming what was asked and what the API server said. */
  const fail = (what: string, error: unknown): never => {
    const status = httpStatusOf(error)
    if (status === 401 || status === 403) {
      throw new KedaLabError(`Not allowed to ${what} on ${server}: ${apiMessage(error)}`, {
        hint: 'Use a kubeconfig context with cluster-admin rights (kubectl auth can-i --list).',
        cause: error,
      })
    }
    if (status === undefined) {
      throw new NoClusterError(`Cannot reach the Kubernetes API at ${server} (context ${contextName}) to ${what}: ${apiMessage(error)}`, {
        reason: 'unreachable',
        hint: 'Check that the cluster is running (`kubectl cluster-info`; `minikube status`) or pick another --context.',
        cause: error,
      })
    }
    throw new KedaLabError(`Kubernetes API error ${status} while trying to ${what}: ${apiMessage(error)}`, {cause: error})
  }
  const api = <T>(call: () => Promise<T>) => withRetry(call, retry)
  const orNotFound = async <T>(what: string, call: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await api(call)
    } catch (error) {
      if (httpStatusOf(error) === 404) return undefined
      return fail(what, error)
    }
  }
  const must = async <T>(what: string, call: () => Promise<T>): Promise<T> => {
    try {
      return await api(call)
    } catch (error) {
      return fail(what, error)
    }
  }
  return {fail, api, orNotFound, must}
}
