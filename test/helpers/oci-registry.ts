/**
 * A real OCI image registry on loopback: CNCF Distribution's `registry` (built from its Go module by
 * scripts/build-release-tools.sh), storage in a temporary folder, no auth. `push` uploads a small
 * image (a config blob, one layer, an OCI manifest) through the registry's own HTTP API, the way
 * `docker push` does, so install's pre-flight image check is tested against real registry answers.
 */
import {createHash} from 'node:crypto'
import {existsSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {homedir, tmpdir} from 'node:os'
import {join} from 'node:path'

import {freePort, spawnTracked, stopProcess, waitFor} from './processes.js'

export const DISTRIBUTION_VERSION = 'v3.1.2'

/** The registry binary; a missing one is a failure that says how to build it. */
export function registryBinary(): string {
  const cache = process.env.KEDA_LAB_TOOLS_CACHE ?? join(homedir(), '.cache', 'keda-lab', 'tools')
  const bin = join(cache, `registry-${DISTRIBUTION_VERSION}`, 'registry')
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run ./scripts/build-release-tools.sh registry (npm test does)`)
  return bin
}

/** A running registry. */
export interface OciRegistry {
  /** `127.0.0.1:PORT` (a registry host, as in an image reference). */
  host: string
  /** Pushes a small image as `<repository>:<tag>`; returns its manifest digest. */
  push(repository: string, tag: string): Promise<string>
  stop(): Promise<void>
}

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`

/** Starts the registry on a free loopback port. */
export async function startOciRegistry(): Promise<OciRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'keda-lab-oci-'))
  const port = await freePort()
  const host = `127.0.0.1:${port}`
  const config = join(dir, 'config.yml')
  writeFileSync(
    config,
    ['version: 0.1', 'log:', '  level: warn', 'storage:', '  filesystem:', `    rootdirectory: ${join(dir, 'data')}`, 'http:', `  addr: ${host}`, ''].join(
      '\n',
    ),
  )
  const child = spawnTracked(registryBinary(), ['serve', config], {cwd: dir, env: {PATH: process.env.PATH, HOME: dir}})
  let output = ''
  child.stderr?.on('data', (d: Buffer) => (output = (output + d).slice(-4000)))
  child.stdout?.on('data', (d: Buffer) => (output = (output + d).slice(-4000)))
  const base = `http://${host}`
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`registry exited (${child.exitCode}):\n${output}`)
        return (await fetch(`${base}/v2/`)).ok
      },
      {timeoutMs: 30_000, what: 'the registry to answer /v2/', ignore: (e) => e instanceof TypeError},
    )
  } catch (error) {
    await stopProcess(child)
    throw error
  }

  async function pushBlob(repository: string, data: Buffer): Promise<string> {
    const digest = sha256(data)
    const start = await fetch(`${base}/v2/${repository}/blobs/uploads/`, {method: 'POST'})
    if (start.status !== 202) throw new Error(`blob upload start: ${start.status} ${await start.text()}`)
    const location = new URL(start.headers.get('location') ?? '', base)
    location.searchParams.set('digest', digest)
    const put = await fetch(location, {method: 'PUT', headers: {'content-type': 'application/octet-stream'}, body: new Uint8Array(data)})
    if (put.status !== 201) throw new Error(`blob upload: ${put.status} ${await put.text()}`)
    return digest
  }

  return {
    host,
    async push(repository, tag) {
      const configBlob = Buffer.from(JSON.stringify({architecture: 'amd64', os: 'linux', rootfs: {type: 'layers', diff_ids: []}, config: {}}))
      const layer = Buffer.from(`keda-lab test layer ${repository}:${tag}`)
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: {mediaType: 'application/vnd.oci.image.config.v1+json', digest: await pushBlob(repository, configBlob), size: configBlob.length},
          layers: [{mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: await pushBlob(repository, layer), size: layer.length}],
        }),
      )
      const put = await fetch(`${base}/v2/${repository}/manifests/${tag}`, {
        method: 'PUT',
        headers: {'content-type': 'application/vnd.oci.image.manifest.v1+json'},
        body: new Uint8Array(manifest),
      })
      if (put.status !== 201) throw new Error(`manifest push: ${put.status} ${await put.text()}`)
      return sha256(manifest)
    },
    async stop() {
      await stopProcess(child)
      rmSync(dir, {recursive: true, force: true})
    },
  }
}
