/**
 * install's pre-flight image check (src/adapters/registry.ts, src/lab/install/image.ts) against a
 * REAL registry on loopback (CNCF Distribution 3.1.2): an image that exists, a tag and a repository
 * that do not, a digest, a registry that does not answer. The token flow with a pull secret's
 * credentials (what GHCR and Docker Hub ask for) is checked against a loopback stand-in
 * (test/fakes/token-registry.ts; listed in the README), since the real registry's token auth needs
 * a token server this machine does not have.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {checkImage, credentialsFor, parseImageReference} from '../../src/adapters/registry.js'
import {publishedImageName} from '../../src/config/package.js'
import {checkAppImage, mirrored, publishedImage} from '../../src/lab/install/image.js'
import {startTokenRegistry, type TokenRegistry} from '../fakes/token-registry.js'
import {type OciRegistry, startOciRegistry} from '../helpers/oci-registry.js'
import {freePort} from '../helpers/processes.js'

describe('image references', () => {
  it('splits them as Docker does', () => {
    expect(parseImageReference('ghcr.io/keda-lab/keda-lab:0.1.0')).toEqual({registry: 'ghcr.io', repository: 'keda-lab/keda-lab', reference: '0.1.0'})
    expect(parseImageReference('redis')).toEqual({registry: 'docker.io', repository: 'library/redis', reference: 'latest'})
    expect(parseImageReference('bitnami/redis:7')).toEqual({registry: 'docker.io', repository: 'bitnami/redis', reference: '7'})
    expect(parseImageReference('127.0.0.1:5000/a/b@sha256:abc')).toEqual({registry: '127.0.0.1:5000', repository: 'a/b', reference: 'sha256:abc'})
    expect(parseImageReference('localhost/x:1')).toEqual({registry: 'localhost', repository: 'x', reference: '1'})
    expect(mirrored('ghcr.io/keda-lab/keda-lab:0.1.0', 'http://127.0.0.1:5000/')).toBe('127.0.0.1:5000/keda-lab/keda-lab:0.1.0')
  })

  it('names the published image after package.json’s GitHub repository, in every form npm accepts', () => {
    for (const repository of [
      'git+https://github.com/Some-Org/keda-lab.git',
      {type: 'git', url: 'git+https://github.com/Some-Org/keda-lab.git'},
      'https://github.com/Some-Org/keda-lab',
      'git+ssh://git@github.com/Some-Org/keda-lab.git',
      'git@github.com:Some-Org/keda-lab.git',
      'github:Some-Org/keda-lab',
      'Some-Org/keda-lab',
    ]) {
      expect(publishedImage({version: '1.2.3', repository}), JSON.stringify(repository)).toBe('ghcr.io/some-org/keda-lab:1.2.3')
    }
    for (const repository of [undefined, 'https://gitlab.com/o/keda-lab.git']) {
      expect(() => publishedImageName({repository})).toThrow(/is not a GitHub repository/)
    }
  })

  it('reads a pull secret’s credentials by registry host, URL keys and the auth field included', () => {
    const config = JSON.stringify({
      auths: {
        'https://index.docker.io/v1/': {auth: Buffer.from('hub-user:hub-pass').toString('base64')},
        'ghcr.io': {username: 'gh-user', password: 'gh-token'},
      },
    })
    expect(credentialsFor(config, 'ghcr.io')).toEqual({username: 'gh-user', password: 'gh-token'})
    expect(credentialsFor(config, 'docker.io')).toEqual({username: 'hub-user', password: 'hub-pass'})
    expect(credentialsFor(config, 'quay.io')).toBeUndefined()
    expect(credentialsFor('not json', 'ghcr.io')).toBeUndefined()
  })
})

describe('checkImage against a real registry (CNCF Distribution)', () => {
  let registry: OciRegistry
  let digest: string
  beforeAll(async () => {
    registry = await startOciRegistry()
    digest = await registry.push('keda-lab/keda-lab', '0.1.0')
  }, 60_000)
  afterAll(async () => registry?.stop())

  it('finds a pushed tag and its digest; a missing tag and a missing repository are "missing"', async () => {
    expect(await checkImage(`${registry.host}/keda-lab/keda-lab:0.1.0`)).toEqual({status: 'found', digest})
    expect(await checkImage(`${registry.host}/keda-lab/keda-lab@${digest}`)).toEqual({status: 'found', digest})
    const tag = await checkImage(`${registry.host}/keda-lab/keda-lab:9.9.9`)
    expect(tag).toEqual({status: 'missing', detail: `${registry.host} has no keda-lab/keda-lab:9.9.9 (404)`})
    expect((await checkImage(`${registry.host}/nobody/nothing:1`)).status).toBe('missing')
  })

  it('a registry that does not answer is "unreachable", with the reason', async () => {
    const closed = `127.0.0.1:${await freePort()}`
    const result = await checkImage(`${closed}/keda-lab/keda-lab:0.1.0`, {timeoutMs: 5000})
    expect(result.status).toBe('unreachable')
    expect(result.status === 'unreachable' && result.detail).toMatch(/^cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/)
  })

  it('checkAppImage asks a mirror for the published image (KEDA_LAB_REGISTRY_MIRROR) and keeps the real reference', async () => {
    const facts = await checkAppImage({
      ref: 'ghcr.io/keda-lab/keda-lab:0.1.0',
      source: 'published',
      namespace: 'keda',
      readSecret: async () => undefined,
      check: (ref, options) => checkImage(ref, options),
      mirror: `http://${registry.host}`,
    })
    expect(facts).toEqual({ref: 'ghcr.io/keda-lab/keda-lab:0.1.0', source: 'published', check: {status: 'found', digest}, mirror: `http://${registry.host}`})
  })
})

describe('checkImage through a token challenge (loopback stand-in for GHCR-style auth)', () => {
  let fake: TokenRegistry
  beforeAll(async () => {
    fake = await startTokenRegistry({
      username: 'robot',
      password: 'pull-token',
      images: ['private/keda-lab:0.1.0', 'public/keda-lab:0.1.0'],
      publicRepositories: ['public/keda-lab'],
    })
  })
  afterAll(async () => fake?.stop())

  it('anonymous: a public image is found through an anonymous token; a private one is denied', async () => {
    expect((await checkImage(`${fake.host}/public/keda-lab:0.1.0`)).status).toBe('found')
    const denied = await checkImage(`${fake.host}/private/keda-lab:0.1.0`)
    expect(denied.status).toBe('denied')
    expect(fake.tokenRequests.at(-1)).toEqual({scope: 'repository:private/keda-lab:pull', service: 'fake-registry', user: undefined})
  })

  it('with the pull secret: found; wrong credentials: denied; the password never appears in a result', async () => {
    const secret = {'.dockerconfigjson': JSON.stringify({auths: {[fake.host]: {username: 'robot', password: 'pull-token'}}})}
    const ok = await checkAppImage({
      ref: `${fake.host}/private/keda-lab:0.1.0`,
      source: 'flag',
      pullSecret: 'regcred',
      namespace: 'keda',
      readSecret: async (ns, name) => (ns === 'keda' && name === 'regcred' ? secret : undefined),
      check: (ref, options) => checkImage(ref, options),
    })
    expect(ok.check.status).toBe('found')
    expect(ok.pullSecret).toEqual({name: 'regcred', found: true, hasCredentials: true})
    expect(fake.tokenRequests.at(-1)?.user).toBe('robot')

    const wrong = await checkImage(`${fake.host}/private/keda-lab:0.1.0`, {credentials: {username: 'robot', password: 'nope'}})
    expect(wrong.status).toBe('denied')
    expect(JSON.stringify([ok, wrong])).not.toContain('pull-token')

    const missingSecret = await checkAppImage({
      ref: `${fake.host}/private/keda-lab:0.1.0`,
      source: 'flag',
      pullSecret: 'absent',
      namespace: 'keda',
      readSecret: async () => undefined,
      check: (ref, options) => checkImage(ref, options),
    })
    expect(missingSecret.pullSecret).toEqual({name: 'absent', found: false, hasCredentials: false})
  })
})
