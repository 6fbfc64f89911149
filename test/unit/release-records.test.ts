import {gzipSync} from 'node:zlib'

import {describe, expect, it} from 'vitest'

import {CREATION_WINDOW_MS, createdWithRelease, creatorOf, decodeHelmRelease} from '../../src/lab/uninstall/release-records.js'

const crd = (name: string) => `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: ${name}
`
const b64 = (text: string) => Buffer.from(text).toString('base64')

/** A release as Helm stores it in its Secret: JSON, gzipped, base64 (the Secret's own base64 undone). */
const encode = (release: unknown, gzip = true) => {
  const json = Buffer.from(JSON.stringify(release))
  return (gzip ? gzipSync(json) : json).toString('base64')
}

describe("Helm's release record", () => {
  const release = {
    name: 'keda',
    namespace: 'lab',
    info: {first_deployed: '2026-12-07T03:38:09.830207405Z', status: 'deployed'},
    manifest: `---\n${crd('rendered.example.com')}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n`,
    chart: {
      metadata: {name: 'keda', version: '2.20.2'},
      files: [
        {name: 'crds/crds.yaml', data: b64(`${crd('scaledobjects.keda.sh')}---\n${crd('scaledjobs.keda.sh')}`)},
        {name: 'README.md', data: b64(crd('not-a-crd-file.example.com'))},
      ],
    },
  }

  it("names the CRDs of the manifest and of the chart's crds/ folder, and when it was first deployed", () => {
    expect(decodeHelmRelease(encode(release))).toEqual({
      name: 'keda',
      namespace: 'lab',
      firstDeployed: '2026-12-07T03:38:09.830207405Z',
      crds: ['rendered.example.com', 'scaledjobs.keda.sh', 'scaledobjects.keda.sh'],
    })
    // Not gzipped (very old records), and a chart without files (Helm writes null).
    expect(decodeHelmRelease(encode({...release, chart: {files: null}}, false)).crds).toEqual(['rendered.example.com'])
  })

  it('anything else is refused, not read as an empty release', () => {
    expect(() => decodeHelmRelease(b64('not json'))).toThrow()
    expect(() => decodeHelmRelease(encode({hello: 'world'}))).toThrow('not a Helm release record')
  })

  it('a CRD is the release’s only when Helm created it around the first deployment', () => {
    const record = {firstDeployed: '2026-12-07T03:38:09Z'}
    const at = (ms: number) => new Date(Date.parse(record.firstDeployed) + ms).toISOString().replace(/\.\d+Z$/, 'Z')
    const by = (...writes: [manager: string, time?: string][]) => writes.map(([manager, time]) => ({manager, operation: 'Update', time}))
    expect(createdWithRelease({createdAt: at(-2000), fieldManagers: by(['helm', at(-2000)], ['kube-apiserver', at(-2000)])}, record)).toBe(true)
    // Created by someone else: Helm 3 skipped it, Helm 4 applied over it later (its entry without a time, or a later one).
    expect(createdWithRelease({createdAt: at(-2000), fieldManagers: by(['kubectl-create', at(-2000)], ['kube-apiserver', at(-2000)])}, record)).toBe(false)
    expect(createdWithRelease({createdAt: at(-2000), fieldManagers: by(['helm'], ['kubectl-create', at(-2000)])}, record)).toBe(false)
    expect(createdWithRelease({createdAt: at(-9000), fieldManagers: by(['kubectl-create', at(-9000)], ['helm', at(-2000)])}, record)).toBe(false)
    // Two writers in the first second: cannot be told, so not the release's.
    expect(creatorOf({fieldManagers: by(['helm', at(0)], ['kubectl-create', at(0)])})).toBeUndefined()
    // Long before, or long after the release: another owner's.
    expect(createdWithRelease({createdAt: at(-CREATION_WINDOW_MS - 1000), fieldManagers: by(['helm', at(-CREATION_WINDOW_MS - 1000)])}, record)).toBe(false)
    expect(createdWithRelease({createdAt: at(CREATION_WINDOW_MS + 1000), fieldManagers: by(['helm', at(CREATION_WINDOW_MS + 1000)])}, record)).toBe(false)
    expect(createdWithRelease({createdAt: at(0), fieldManagers: by(['helm', at(0)])}, {})).toBe(false)
  })
})
