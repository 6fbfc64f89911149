/**
 * A real npm registry on loopback (Verdaccio), for testing keda-lab as users get it: packed,
 * published, then run with `npx` in a clean HOME and npm cache. Dependencies are proxied to the
 * registry `npm` itself uses here (its `registry` setting), so the npx install downloads what a
 * user's would; Verdaccio keeps what it proxied in its storage (pass the same `storageDir` to keep
 * its cache warm across runs). keda-lab itself is never proxied: only the tarball published here
 * answers for it. Used by test/e2e/registry.test.ts and `npm run bench`.
 */
import {execFileSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {repoRoot} from './cli.js'
import {freePort, type RunResult, runTracked, spawnTracked, stopProcess, waitFor} from './processes.js'

/** A running Verdaccio and what a clean npm client needs to talk to it. */
export interface LoopbackRegistry {
  /** `http://127.0.0.1:PORT/` */
  url: string
  /** The upstream registry Verdaccio proxies dependencies to. */
  uplink: string
  /** Writes an npmrc in `home` pointing npm at this registry with a publishing token. */
  npmrc(home: string): string
  stop(): Promise<void>
}

/** The registry the machine's npm uses (what `npm ci` resolved the lockfile against). */
export function upstreamRegistry(): string {
  const fromEnv = process.env.npm_config_registry
  if (fromEnv) return fromEnv.endsWith('/') ? fromEnv : `${fromEnv}/`
  const out = execFileSync('npm', ['config', 'get', 'registry'], {encoding: 'utf8', cwd: tmpdir(), env: cleanNpmEnv({})}).trim()
  return out.endsWith('/') ? out : `${out}/`
}

/**
 * The environment for an npm client that sees nothing of the caller's npm: no `npm_*` variables
 * (an `npm test` run exports its whole configuration, its cache and registry included, as
 * `npm_config_*`), plus `extra`.
 */
export function cleanNpmEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) if (!/^npm_/i.test(key)) env[key] = value
  // The project's node_modules/.bin must not be where npx finds "keda-lab".
  env.PATH = (env.PATH ?? '')
    .split(':')
    .filter((dir) => !dir.includes('node_modules/.bin') || dir.includes('keda-lab-node24'))
    .join(':')
  return {...env, ...extra}
}

/**
 * Starts Verdaccio 6 on a free loopback port with its storage in `storageDir` (a fresh temporary
 * folder if not given) and creates a user to publish with (Verdaccio refuses anonymous publishes).
 */
export async function startRegistry(options: {storageDir?: string; uplink?: string} = {}): Promise<LoopbackRegistry> {
  const dir = options.storageDir ?? mkdtempSync(join(tmpdir(), 'keda-lab-registry-'))
  mkdirSync(dir, {recursive: true})
  const uplink = options.uplink ?? upstreamRegistry()
  const port = await freePort()
  const url = `http://127.0.0.1:${port}/`
  const config = join(dir, 'config.yaml')
  // maxage: proxied metadata is served from storage for an hour, so a warm cache answers without
  // asking the upstream again (what a company's registry mirror does).
  writeFileSync(
    config,
    [
      `storage: ${JSON.stringify(join(dir, 'storage'))}`,
      'auth:',
      '  htpasswd:',
      `    file: ${JSON.stringify(join(dir, 'htpasswd'))}`,
      '    max_users: 100',
      'uplinks:',
      '  upstream:',
      `    url: ${JSON.stringify(uplink)}`,
      '    maxage: 60m',
      '    timeout: 60s',
      'packages:',
      "  'keda-lab':",
      '    access: $all',
      '    publish: $authenticated',
      '    unpublish: $authenticated',
      // The benchmark's one-line package (npx's own floor): published here, never asked upstream.
      "  'keda-lab-npx-floor':",
      '    access: $all',
      '    publish: $authenticated',
      "  '**':",
      '    access: $all',
      '    publish: $authenticated',
      '    proxy: upstream',
      'web:',
      '  enable: false',
      'log: {type: stdout, format: pretty, level: warn}',
      '',
    ].join('\n'),
  )
  const child = spawnTracked(
    process.execPath,
    [join(repoRoot, 'node_modules', 'verdaccio', 'bin', 'verdaccio'), '--config', config, '--listen', `127.0.0.1:${port}`],
    {
      cwd: dir,
      env: cleanNpmEnv({}),
    },
  )
  let output = ''
  child.stdout?.on('data', (d: Buffer) => (output = (output + d).slice(-4000)))
  child.stderr?.on('data', (d: Buffer) => (output = (output + d).slice(-4000)))
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`verdaccio exited (${child.exitCode}):\n${output}`)
        return (await fetch(`${url}-/ping`)).ok
      },
      {timeoutMs: 60_000, what: 'verdaccio to answer /-/ping', ignore: (e) => e instanceof TypeError},
    )
    const user = `keda-lab-${port}`
    const response = await fetch(`${url}-/user/org.couchdb.user:${user}`, {
      method: 'PUT',
      headers: {'content-type': 'application/json'},
      body: JSON.stringify({name: user, password: `pw-${port}-${Date.now()}`}),
    })
    if (!response.ok) throw new Error(`verdaccio refused to create a user: ${response.status} ${await response.text()}`)
    const {token} = (await response.json()) as {token: string}
    return {
      url,
      uplink,
      npmrc(home) {
        const file = join(home, '.npmrc')
        writeFileSync(file, `registry=${url}\n//127.0.0.1:${port}/:_authToken=${token}\nfund=false\naudit=false\nupdate-notifier=false\n`)
        return file
      },
      async stop() {
        await stopProcess(child)
        // A storage folder made here goes with the registry; one passed in is the caller's to keep.
        if (!options.storageDir) rmSync(dir, {recursive: true, force: true})
      },
    }
  } catch (error) {
    await stopProcess(child)
    throw error
  }
}

/** A clean npm client: its own HOME, npm cache and npmrc, pointed at `registry`. */
export interface CleanClient {
  home: string
  cache: string
  /** An empty folder to run npx in (no package.json named keda-lab above it). */
  cwd: string
  env: NodeJS.ProcessEnv
}

/** Makes a clean HOME (with an npmrc for `registry`), npm cache and working folder under `root`. */
export function cleanClient(registry: LoopbackRegistry, root = mkdtempSync(join(tmpdir(), 'keda-lab-npx-'))): CleanClient {
  const home = join(root, 'home')
  const cache = join(root, 'npm-cache')
  const cwd = join(root, 'work')
  for (const d of [home, cache, cwd]) mkdirSync(d, {recursive: true})
  const userconfig = registry.npmrc(home)
  const env = cleanNpmEnv({
    HOME: home,
    npm_config_cache: cache,
    npm_config_userconfig: userconfig,
    npm_config_registry: registry.url,
    npm_config_update_notifier: 'false',
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_CACHE_HOME: join(home, '.cache'),
    XDG_DATA_HOME: join(home, '.local', 'share'),
    NO_COLOR: '1',
  })
  return {home, cache, cwd, env}
}

/**
 * `npm pack` of the working tree (already built: scripts are not run) into `dir`; returns the
 * tarball's path.
 */
export async function packProject(dir: string): Promise<string> {
  const result = await runTracked('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], {
    cwd: repoRoot,
    env: cleanNpmEnv({}),
    timeoutMs: 120_000,
  })
  if (result.exitCode !== 0) throw new Error(`npm pack failed:\n${result.all.slice(-3000)}`)
  const [info] = JSON.parse(result.stdout) as Array<{filename: string}>
  if (!info) throw new Error(`npm pack printed no file:\n${result.stdout}`)
  return join(dir, info.filename)
}

/** Publishes `tarball` to `registry` as `client`'s user. */
export async function publish(client: CleanClient, registry: LoopbackRegistry, tarball: string): Promise<void> {
  const result = await runTracked('npm', ['publish', tarball, '--registry', registry.url, '--ignore-scripts', '--tag', 'latest'], {
    cwd: client.cwd,
    env: client.env,
    timeoutMs: 120_000,
  })
  if (result.exitCode !== 0) throw new Error(`npm publish to ${registry.url} failed:\n${result.all.slice(-3000)}`)
}

/** `npx --yes <spec> <args>` as a user runs it, timed (wall milliseconds). */
export async function npx(
  client: CleanClient,
  spec: string,
  args: string[],
  options: {timeoutMs?: number; env?: NodeJS.ProcessEnv} = {},
): Promise<RunResult & {ms: number}> {
  const t0 = performance.now()
  const result = await runTracked('npx', ['--yes', spec, ...args], {
    cwd: client.cwd,
    env: {...client.env, ...options.env},
    timeoutMs: options.timeoutMs ?? 900_000,
  })
  return {...result, ms: performance.now() - t0}
}

/** Bytes and number of files under `dir` (sizes of regular files, as `du --apparent-size`). */
export function treeSize(dir: string): {bytes: number; files: number} {
  let bytes = 0
  let files = 0
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, {withFileTypes: true})) {
      const p = join(d, entry.name)
      if (entry.isDirectory()) walk(p)
      else if (entry.isFile()) {
        bytes += statSync(p).size
        files++
      }
    }
  }
  walk(dir)
  return {bytes, files}
}

/** Where npx installed `name` in `client`'s cache (the folder holding its node_modules). */
export function npxInstallDir(client: CleanClient, name = 'keda-lab'): string {
  const root = join(client.cache, '_npx')
  for (const hash of readdirSync(root)) {
    try {
      if (statSync(join(root, hash, 'node_modules', name, 'package.json')).isFile()) return join(root, hash)
    } catch {
      // another npx install in the same cache: not this one
    }
  }
  throw new Error(`npx installed no ${name} under ${root}`)
}

/** Removes a client's folders. */
export function removeClient(client: CleanClient): void {
  rmSync(join(client.home, '..'), {recursive: true, force: true})
}
