/**
 * Stand-in for a registry with token auth (GHCR, Docker Hub): `/v2/<name>/manifests/<ref>` answers
 * 401 with `WWW-Authenticate: Bearer realm=…/token,service=…,scope=…` without a token, and `/token`
 * hands out a token for a repository's pull scope: to anyone for a public repository, to the
 * configured user (HTTP basic auth) for the others. Only what install's image check needs; the real
 * registry API (manifests, digests, 404s) is tested against CNCF Distribution (test/helpers/oci-registry.ts).
 * Listed in the README's "verified against" section: the real registry's token auth needs a token
 * server, which is exactly what this file would have to be.
 */
import {randomBytes} from 'node:crypto'
import {createServer} from 'node:http'
import type {AddressInfo} from 'node:net'

/** A running stand-in. */
export interface TokenRegistry {
  host: string
  /** The token requests it saw (scope, service, user name; never the password). */
  tokenRequests: {scope?: string; service?: string; user?: string}[]
  stop(): Promise<void>
}

/** Starts the stand-in on a free loopback port. */
export async function startTokenRegistry(options: {
  username: string
  password: string
  images: string[]
  publicRepositories: string[]
}): Promise<TokenRegistry> {
  const tokens = new Map<string, string>() // token -> repository it allows
  const tokenRequests: TokenRegistry['tokenRequests'] = []
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    if (url.pathname === '/token') {
      const scope = url.searchParams.get('scope') ?? undefined
      const repository = /^repository:([^:]+):pull$/.exec(scope ?? '')?.[1]
      const auth = req.headers.authorization
      const [user, password] = auth?.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':') : []
      tokenRequests.push({scope, service: url.searchParams.get('service') ?? undefined, user})
      const isUser = user === options.username && password === options.password
      if (auth && !isUser) return void res.writeHead(401).end('{"errors":[{"code":"UNAUTHORIZED"}]}')
      // Like GHCR: anyone gets a token; it only opens what the holder may see.
      const token = randomBytes(12).toString('hex')
      if (repository && (isUser || options.publicRepositories.includes(repository))) tokens.set(token, repository)
      res.writeHead(200, {'content-type': 'application/json'}).end(JSON.stringify({token}))
      return
    }
    const m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname)
    if (!m) return void res.writeHead(404).end()
    const [, repository, reference] = m as unknown as [string, string, string]
    const bearer = req.headers.authorization?.startsWith('Bearer ') ? req.headers.authorization.slice(7) : undefined
    const address = server.address() as AddressInfo
    if (!bearer || tokens.get(bearer) !== repository) {
      res.writeHead(bearer ? 403 : 401, {
        'www-authenticate': `Bearer realm="http://127.0.0.1:${address.port}/token",service="fake-registry",scope="repository:${repository}:pull"`,
      })
      return void res.end()
    }
    if (!options.images.includes(`${repository}:${reference}`)) return void res.writeHead(404).end()
    res.writeHead(200, {'docker-content-digest': `sha256:${'0'.repeat(64)}`, 'content-type': 'application/vnd.oci.image.index.v1+json'}).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  return {
    host: `127.0.0.1:${port}`,
    tokenRequests,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
