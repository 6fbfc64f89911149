/**
 * `install` checks helm and the cluster before it asks anything (it used to ask every question and
 * then fail in pre-flight), and a dry run without a cluster points to `render`. Driven as a user
 * would: in a real pseudo-terminal, fake Kubernetes API, fake helm on PATH (or none).
 */
import {dirname} from 'node:path'

import {afterEach, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'
import {runCliInPty} from '../helpers/pty.js'
import {type Lab, startLab} from './install-harness.js'

let lab: Lab | undefined
afterEach(async () => {
  await lab?.close()
  lab = undefined
})

/** The first question install asks in a terminal. */
const FIRST_QUESTION = 'Send alerts to Telegram?'

describe('keda-lab install: helm and the cluster before any question', () => {
  it('in a terminal without helm: stops before the first question, says where to get helm', async () => {
    lab = await startLab({kind: 'minikube'})
    const {code, transcript} = await runCliInPty(['install', '--dry-run'], [{expect: 'nothing was changed', timeout: 120}], {
      env: {...lab.env, PATH: `${dirname(process.execPath)}:/usr/bin:/bin`},
      timeoutMs: 170_000,
    })
    expect(transcript).not.toContain('@@TIMEOUT')
    expect(code).toBe(1) // the cluster answers: helm's failure is the command's own
    expect(transcript).not.toContain(FIRST_QUESTION)
    expect(transcript).toContain('× helm present (major version 3 or 4): helm not found: install it from https://helm.sh/docs/intro/install/')
    expect(transcript).toMatch(/Error: pre-flight failed: helm present/)
  }, 180_000)

  it('in a terminal, --dry-run with the cluster down: stops before the first question and points to render', async () => {
    lab = await startLab({kind: 'minikube'})
    await lab.api.close()
    const {code, transcript} = await runCliInPty(['install', '--dry-run'], [{expect: 'nothing was changed', timeout: 120}], {env: lab.env, timeoutMs: 170_000})
    expect(transcript).not.toContain('@@TIMEOUT')
    expect(code).toBe(4) // EXIT_NO_CLUSTER
    expect(transcript).not.toContain(FIRST_QUESTION)
    expect(transcript).toMatch(/× cluster reachable: context minikube \(http:\/\/127\.0\.0\.1:\d+\)/)
    expect(transcript).toContain('keda-lab render --output DIR')
    // helm was asked (its version), nothing else was run.
    expect(lab.calls().map((c) => c.argv.join(' '))).toEqual(['version --short'])
  }, 180_000)

  it('without a terminal, --dry-run with the cluster down: the same error, the render hint, no stack trace', async () => {
    lab = await startLab({kind: 'minikube'})
    await lab.api.close()
    const r = await runCli(['install', '--dry-run', '--yes', '--no-webhook'], {env: lab.env, timeoutMs: 60_000})
    expect(r.code).toBe(4) // EXIT_NO_CLUSTER
    const [error, fix] = r.stderr
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('Error:') || l.startsWith('Fix:'))
    expect(error).toMatch(/^Error: pre-flight failed: cluster reachable \(context minikube/)
    expect(fix).toContain('minikube start')
    expect(fix).toContain('without a cluster, `keda-lab render --output DIR` writes the same manifests and values files; nothing was changed')
    expect(r.stderr).not.toMatch(/\n\s+at /)
  })

  it('a real install (not a dry run) with the cluster down is not pointed to render', async () => {
    lab = await startLab({kind: 'minikube'})
    await lab.api.close()
    const r = await runCli(['install', '--yes', '--no-webhook'], {env: lab.env, timeoutMs: 60_000})
    expect(r.code).toBe(4) // EXIT_NO_CLUSTER
    expect(r.stderr).toMatch(/^Error: pre-flight failed: cluster reachable/m)
    expect(r.stderr).not.toContain('keda-lab render')
  })
})
