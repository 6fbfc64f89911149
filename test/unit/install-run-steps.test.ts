/**
 * The pieces runInstall is made of that decide something on their own: the earlier install's
 * Secrets (a failed read is kept, not thrown), the minikube metrics-server question, the result
 * (--json) and the values files (secrets masked). The whole command is tested as a user runs it
 * in test/e2e/install-plan.test.ts and against a real control plane in test/cluster/.
 */
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterEach, describe, expect, it} from 'vitest'

import type {Plan} from '../../src/lab/install/plan.js'
import type {Prompter} from '../../src/lab/install/options.js'
import {askMetricsServerAddon, installResult, readEarlierSecrets, writeValuesFiles} from '../../src/lab/install/run.js'

describe('readEarlierSecrets', () => {
  it('returns the three Secrets by role; a read that fails comes back as readError with nothing existing', async () => {
    const asked: string[] = []
    const found = await readEarlierSecrets(
      {
        async getSecretData(namespace, name) {
          asked.push(`${namespace}/${name}`)
          return name === 'keda-lab-secrets' ? {'telegram-bot-token': 't'} : undefined
        },
      },
      'keda',
      'mon',
    )
    expect(found).toEqual({existing: {app: {'telegram-bot-token': 't'}, webhookToken: undefined, grafana: undefined}})
    expect(asked.sort()).toEqual(['keda/keda-lab-secrets', 'mon/keda-lab-grafana', 'mon/keda-lab-webhook-token'])
    const denied = await readEarlierSecrets(
      {
        async getSecretData() {
          throw new Error('secrets "keda-lab-secrets" is forbidden')
        },
      },
      'keda',
      'mon',
    )
    expect(denied).toEqual({existing: {}, readError: 'secrets "keda-lab-secrets" is forbidden'})
  })
})

describe('askMetricsServerAddon', () => {
  const prompter = (answer: boolean) => {
    const questions: string[] = []
    const p = {
      async confirm(o: {message: string}) {
        questions.push(o.message)
        return answer
      },
    } as Pick<Prompter, 'confirm'> as Prompter
    return {p, questions}
  }

  it('asks only on minikube without the metrics API, and only when interactive', async () => {
    const no = prompter(false)
    expect(await askMetricsServerAddon({cluster: {kind: 'minikube'}, metricsApi: false}, no.p)).toBe(false)
    expect(no.questions).toEqual(['metrics-server is missing (the API autoscaler needs it). Enable the minikube addon?'])
    const other = prompter(false)
    expect(await askMetricsServerAddon({cluster: {kind: 'kind'}, metricsApi: false}, other.p)).toBe(true)
    expect(await askMetricsServerAddon({cluster: {kind: 'minikube'}, metricsApi: true}, other.p)).toBe(true)
    expect(other.questions).toEqual([])
    // --yes, --json or no TTY: enabled without a question.
    expect(await askMetricsServerAddon({cluster: {kind: 'minikube'}, metricsApi: false}, undefined)).toBe(true)
  })
})

const plan = {
  outputDir: '/out',
  image: 'keda-lab:1',
  files: [{path: '/out/values/keda.yaml', content: 'x'}],
  summary: {api: ['API: …'], grafana: [], next: []},
  steps: [
    {
      id: 'repositories',
      title: 'Helm repositories',
      actions: [{type: 'run', command: {bin: 'helm', args: ['repo', 'update']}}],
      notes: [],
      hint: '',
    },
    {id: 'namespaces-secrets', title: 'Namespaces and Secrets', actions: [{type: 'namespace', name: 'keda', labels: {}}], notes: [], hint: ''},
    {id: 'monitoring', title: 'Monitoring', actions: [], skipped: 'monitoring off (--no-monitoring)', notes: [], hint: ''},
  ],
} as Pick<Plan, 'outputDir' | 'image' | 'files' | 'summary' | 'steps'> as Plan

describe('installResult', () => {
  it('lists each step with its command lines only (namespaces and Secrets are not commands), the files and the summary', () => {
    expect(installResult(plan, [], true)).toEqual({
      dryRun: true,
      checks: [],
      outputDir: '/out',
      image: 'keda-lab:1',
      steps: [
        {id: 'repositories', title: 'Helm repositories', skipped: undefined, commands: ['helm repo update']},
        {id: 'namespaces-secrets', title: 'Namespaces and Secrets', skipped: undefined, commands: []},
        {id: 'monitoring', title: 'Monitoring', skipped: 'monitoring off (--no-monitoring)', commands: []},
      ],
      files: ['/out/values/keda.yaml'],
      summary: plan.summary,
    })
  })
})

describe('writeValuesFiles', () => {
  let dir = ''
  afterEach(() => {
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  it('creates the folders and writes each file through the mask', async () => {
    dir = mkdtempSync(join(tmpdir(), 'keda-lab-values-'))
    const path = join(dir, 'values', 'keda-lab.yaml')
    await writeValuesFiles([{path, content: 'token: s3cret\n'}], (text) => text.replaceAll('s3cret', '********'))
    expect(readFileSync(path, 'utf8')).toBe('token: ********\n')
  })
})
