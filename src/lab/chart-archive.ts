/**
 * What a packaged chart (.tgz) says about itself: the name and version in its own Chart.yaml. A
 * folder from `keda-lab charts pull` is checked against these, not only against its manifest —
 * the manifest is a file anyone can edit, the archive is what Helm installs.
 *
 * A chart archive is a gzipped tar with `<chart>/Chart.yaml` at its top; reading it needs no more
 * than gunzip and the tar header layout (ustar, with the GNU long-name and pax records Helm's Go
 * tar writer may emit for long paths).
 */
import {readFile} from 'node:fs/promises'
import {gunzipSync} from 'node:zlib'

import {parse as parseYaml} from 'yaml'

/** Name and version from an archive's top-level Chart.yaml. */
export interface ArchiveChart {
  name: string
  version: string
}

const BLOCK = 512

const field = (block: Buffer, start: number, length: number) => {
  const raw = block.subarray(start, start + length)
  const end = raw.indexOf(0)
  return raw.subarray(0, end === -1 ? raw.length : end).toString('utf8')
}

/** The files of a tar stream whose path satisfies `want`, as path → content. */
export function readTarFiles(tar: Buffer, want: (path: string) => boolean): Map<string, Buffer> {
  const out = new Map<string, Buffer>()
  let offset = 0
  let longName: string | undefined
  while (offset + BLOCK <= tar.length) {
    const header = tar.subarray(offset, offset + BLOCK)
    if (header.every((b) => b === 0)) break
    const size = Number.parseInt(field(header, 124, 12).trim() || '0', 8)
    const type = String.fromCharCode(header[156] ?? 48)
    const body = tar.subarray(offset + BLOCK, offset + BLOCK + size)
    offset += BLOCK + Math.ceil(size / BLOCK) * BLOCK
    if (type === 'L') {
      longName = body.toString('utf8').replace(/\0+$/, '')
      continue
    }
    if (type === 'x') {
      const path = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(body.toString('utf8'))?.[1]
      if (path) longName = path
      continue
    }
    const prefix = field(header, 345, 155)
    const name = longName ?? (prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100))
    longName = undefined
    if ((type === '0' || type === '\0') && want(name)) out.set(name, Buffer.from(body))
  }
  return out
}

/**
 * Reads `<chart>/Chart.yaml` at the top of a chart archive. Throws an Error saying what is wrong
 * (not gzip, no Chart.yaml, no name or version) — the caller adds the file and the fix.
 */
export async function readArchiveChart(path: string): Promise<ArchiveChart> {
  let tar: Buffer
  try {
    tar = gunzipSync(await readFile(path))
  } catch (error) {
    throw new Error(`not a gzipped chart archive (${(error as Error).message})`)
  }
  const files = readTarFiles(tar, (p) => /^[^/]+\/Chart\.yaml$/.test(p))
  const first = [...files.values()][0]
  if (!first) throw new Error('no <chart>/Chart.yaml at the top of the archive')
  let meta: {name?: unknown; version?: unknown}
  try {
    meta = (parseYaml(first.toString('utf8')) ?? {}) as {name?: unknown; version?: unknown}
  } catch (error) {
    throw new Error(`its Chart.yaml is not valid YAML (${(error as Error).message.split('\n')[0]})`)
  }
  if (typeof meta.name !== 'string' || meta.version === undefined || meta.version === null) {
    throw new Error('its Chart.yaml has no name or no version')
  }
  return {name: meta.name, version: String(meta.version)}
}
