/**
 * Asks an image registry whether an image reference resolves, the way a container runtime would
 * before pulling it: the OCI distribution API's manifest endpoint (`HEAD /v2/<name>/manifests/<ref>`),
 * with the registry's token flow (a `WWW-Authenticate: Bearer realm=…` challenge, anonymous or with
 * the credentials of a pull secret) or HTTP basic auth. Install runs it before anything changes, so a
 * wrong or unpublished image is reported at once instead of as an ImagePullBackOff minutes later.
 */

/** An image reference split the way container runtimes do. */
export interface ImageReference {
  /** Registry host[:port] as written (`docker.io` for a reference without one). */
  registry: string
  /** Repository path (`library/redis` for Docker Hub's official images). */
  repository: string
  /** Tag or digest (`sha256:…`). */
  reference: string
}

/** Registry credentials, e.g. from a `kubernetes.io/dockerconfigjson` pull secret. */
export interface RegistryCredentials {
  username: string
  password: string
}

/** What the registry said about an image. */
export type ImageCheck =
  | {status: 'found'; digest?: string}
  | {status: 'missing'; detail: string}
  | {status: 'denied'; detail: string}
  /** No answer that says yes or no (offline, DNS, TLS, timeout, 5xx): the image may well exist. */
  | {status: 'unreachable'; detail: string}

/** Options of {@link checkImage}. */
export interface CheckImageOptions {
  credentials?: RegistryCredentials
  /** Per request (default 10 s). */
  timeoutMs?: number
  fetch?: typeof fetch
}

const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ')

/**
 * Splits `ref` as Docker does: the first path component is a registry when it has a `.` or a `:`
 * or is `localhost`; otherwise the image is on Docker Hub (`library/` added to one-part names).
 */
export function parseImageReference(ref: string): ImageReference {
  let rest = ref
  let reference = 'latest'
  const at = rest.indexOf('@')
  if (at >= 0) {
    reference = rest.slice(at + 1)
    rest = rest.slice(0, at)
  } else {
    const colon = rest.lastIndexOf(':')
    if (colon > rest.lastIndexOf('/')) {
      reference = rest.slice(colon + 1)
      rest = rest.slice(0, colon)
    }
  }
  const slash = rest.indexOf('/')
  const first = slash >= 0 ? rest.slice(0, slash) : ''
  if (first && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    return {registry: first, repository: rest.slice(slash + 1), reference}
  }
  return {registry: 'docker.io', repository: slash >= 0 ? rest : `library/${rest}`, reference}
}

/**
 * The base URL of a registry's API. Docker Hub's API host is registry-1.docker.io. Loopback
 * registries are spoken to over plain HTTP, as Docker and containerd treat 127.0.0.0/8 and
 * localhost as insecure registries by default; every other registry over HTTPS.
 */
export function registryBaseUrl(registry: string): string {
  if (registry === 'docker.io' || registry === 'index.docker.io') return 'https://registry-1.docker.io'
  const host = registry.replace(/:\d+$/, '')
  const loopback = host === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '[::1]'
  return `${loopback ? 'http' : 'https'}://${registry}`
}

/** The parameters of a `WWW-Authenticate` challenge (`Bearer realm="…",service="…"`). */
function parseChallenge(header: string): {scheme: string; params: Record<string, string>} {
  const space = header.indexOf(' ')
  const scheme = (space >= 0 ? header.slice(0, space) : header).toLowerCase()
  const params: Record<string, string> = {}
  for (const m of header.slice(space + 1).matchAll(/(\w+)="([^"]*)"/g)) params[(m[1] ?? '').toLowerCase()] = m[2] ?? ''
  return {scheme, params}
}

const basic = (c: RegistryCredentials) => `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`

/** Why a request failed, in words (the cause of fetch's "fetch failed" carries the real reason). */
function networkReason(error: unknown): string {
  const e = error as {name?: string; message?: string; cause?: {code?: string; message?: string}}
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'no answer in time'
  return e.cause?.code ? `${e.cause.code}${e.cause.message ? ` (${e.cause.message})` : ''}` : (e.message ?? String(error))
}

/** Asks the registry whether `ref` resolves; never throws. */
export async function checkImage(ref: string, options: CheckImageOptions = {}): Promise<ImageCheck> {
  const doFetch = options.fetch ?? fetch
  const timeout = options.timeoutMs ?? 10_000
  const image = parseImageReference(ref)
  const base = registryBaseUrl(image.registry)
  const url = `${base}/v2/${image.repository}/manifests/${image.reference}`
  const head = (authorization?: string) =>
    doFetch(url, {
      method: 'HEAD',
      headers: {accept: MANIFEST_TYPES, ...(authorization ? {authorization} : {})},
      signal: AbortSignal.timeout(timeout),
      redirect: 'follow',
    })
  try {
    let response = await head()
    if (response.status === 401) {
      const challenge = parseChallenge(response.headers.get('www-authenticate') ?? '')
      let authorization: string | undefined
      if (challenge.scheme === 'bearer' && challenge.params.realm) {
        const tokenUrl = new URL(challenge.params.realm)
        if (challenge.params.service) tokenUrl.searchParams.set('service', challenge.params.service)
        tokenUrl.searchParams.set('scope', challenge.params.scope ?? `repository:${image.repository}:pull`)
        const tokenResponse = await doFetch(tokenUrl, {
          headers: options.credentials ? {authorization: basic(options.credentials)} : {},
          signal: AbortSignal.timeout(timeout),
        })
        if (tokenResponse.status === 401 || tokenResponse.status === 403) {
          return {
            status: 'denied',
            detail: `${image.registry} refused ${options.credentials ? 'the pull secret’s credentials' : 'an anonymous pull token'} (${tokenResponse.status})`,
          }
        }
        if (!tokenResponse.ok) return {status: 'unreachable', detail: `${image.registry}'s token service answered ${tokenResponse.status}`}
        const body = (await tokenResponse.json()) as {token?: string; access_token?: string}
        const token = body.token ?? body.access_token
        if (!token) return {status: 'unreachable', detail: `${image.registry}'s token service gave no token`}
        authorization = `Bearer ${token}`
      } else if (challenge.scheme === 'basic' && options.credentials) {
        authorization = basic(options.credentials)
      } else {
        return {status: 'denied', detail: `${image.registry} wants credentials for ${image.repository} and none were given`}
      }
      response = await head(authorization)
    }
    if (response.ok) return {status: 'found', digest: response.headers.get('docker-content-digest') ?? undefined}
    if (response.status === 404) {
      return {status: 'missing', detail: `${image.registry} has no ${image.repository}:${image.reference} (404)`}
    }
    if (response.status === 401 || response.status === 403) {
      // Registries answer an unknown repository with 401/403 to anonymous users (GHCR does), so a
      // refusal without credentials may also mean "does not exist".
      return {
        status: 'denied',
        detail: `${image.registry} refused to show ${image.repository}:${image.reference} (${response.status})${options.credentials ? '' : ': private, or not published'}`,
      }
    }
    return {status: 'unreachable', detail: `${image.registry} answered ${response.status} for ${image.repository}:${image.reference}`}
  } catch (error) {
    return {status: 'unreachable', detail: `cannot reach ${base}: ${networkReason(error)}`}
  }
}

/**
 * The credentials for `registry` in a `.dockerconfigjson` document (a `kubernetes.io/dockerconfigjson`
 * pull secret's data): `auths` keyed by host, or by URL (`https://index.docker.io/v1/` for Docker Hub).
 */
export function credentialsFor(dockerConfigJson: string, registry: string): RegistryCredentials | undefined {
  let config: {auths?: Record<string, {username?: string; password?: string; auth?: string}>}
  try {
    config = JSON.parse(dockerConfigJson) as typeof config
  } catch {
    return undefined
  }
  const hub = registry === 'docker.io' || registry === 'index.docker.io'
  const hostOf = (key: string) => key.replace(/^https?:\/\//, '').replace(/\/.*$/, '')
  const entry = Object.entries(config.auths ?? {}).find(([key]) => {
    const host = hostOf(key)
    return host === registry || (hub && (host === 'index.docker.io' || host === 'docker.io' || host === 'registry-1.docker.io'))
  })?.[1]
  if (!entry) return undefined
  if (entry.username !== undefined && entry.password !== undefined) return {username: entry.username, password: entry.password}
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    if (colon > 0) return {username: decoded.slice(0, colon), password: decoded.slice(colon + 1)}
  }
  return undefined
}
