/**
 * The Indexed Job of `loadtest --runner cluster`: one pod per shard, each running the lab's image
 * as `keda-lab loadtest --runner local --shard i/N --json …`, hardened for Pod Security
 * `restricted`. Admission by a real API server is checked in test/cluster/loadtest-cluster.test.ts.
 */
import {describe, expect, it} from 'vitest'

import {buildLoadtestJob, COMPLETION_INDEX_LABEL, jobName, RUN_LABEL} from '../../src/lab/loadtest/cluster-job.js'

// biome-ignore lint/suspicious/noExplicitAny: a manifest is read field by field below
type Json = any

const job: Json = buildLoadtestJob({
  name: jobName('abc123'),
  namespace: 'keda',
  image: 'registry.example/keda-lab:1.2.3',
  parallel: 3,
  runId: 'abc123',
  args: ['--profile', 'shared-50', '--target', 'http://keda-lab-api.keda.svc:80'],
  activeDeadlineSeconds: 900,
  terminationGracePeriodSeconds: 18,
})

describe('buildLoadtestJob', () => {
  it('is an Indexed Job of N pods that never retries a shard and cleans up after itself', () => {
    expect(job.apiVersion).toBe('batch/v1')
    expect(job.kind).toBe('Job')
    expect(job.metadata).toMatchObject({
      name: 'keda-lab-loadtest-abc123',
      namespace: 'keda',
      labels: {[RUN_LABEL]: 'abc123', 'app.kubernetes.io/component': 'loadtest'},
    })
    expect(job.spec).toMatchObject({
      completionMode: 'Indexed',
      completions: 3,
      parallelism: 3,
      backoffLimit: 0,
      activeDeadlineSeconds: 900,
      ttlSecondsAfterFinished: 600,
    })
    expect(job.spec.template.metadata.labels[RUN_LABEL]).toBe('abc123')
    expect(job.spec.template.spec.restartPolicy).toBe('Never')
    // A pod stopped by Ctrl-C gets the time to print its summary.
    expect(job.spec.template.spec.terminationGracePeriodSeconds).toBe(18)
    const bare = buildLoadtestJob({name: 'x', namespace: 'n', image: 'i', parallel: 1, runId: 'r', args: [], activeDeadlineSeconds: 1}) as Json
    expect(bare.spec.template.spec).not.toHaveProperty('terminationGracePeriodSeconds')
  })

  it('runs one shard per pod, its index taken from the completion index', () => {
    const [c] = job.spec.template.spec.containers
    expect(c.image).toBe('registry.example/keda-lab:1.2.3')
    expect(c.args).toEqual([
      'loadtest',
      '--runner',
      'local',
      '--shard',
      '$(JOB_COMPLETION_INDEX)/3',
      '--json',
      '--profile',
      'shared-50',
      '--target',
      'http://keda-lab-api.keda.svc:80',
    ])
    expect(c.env).toContainEqual({name: 'JOB_COMPLETION_INDEX', valueFrom: {fieldRef: {fieldPath: `metadata.annotations['${COMPLETION_INDEX_LABEL}']`}}})
    expect(c.resources.requests).toEqual({cpu: '500m', memory: '192Mi'})
    expect(c.resources.limits).toEqual({cpu: '1', memory: '512Mi'})
  })

  it('meets Pod Security restricted and mounts no token', () => {
    const spec = job.spec.template.spec
    expect(spec.automountServiceAccountToken).toBe(false)
    expect(spec.securityContext).toMatchObject({runAsNonRoot: true, seccompProfile: {type: 'RuntimeDefault'}})
    expect(spec.securityContext.runAsUser).toBeGreaterThan(0)
    const [c] = spec.containers
    expect(c.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: {drop: ['ALL']},
      seccompProfile: {type: 'RuntimeDefault'},
    })
    expect(spec.volumes).toEqual([{name: 'tmp', emptyDir: {sizeLimit: '64Mi'}}])
  })

  it('refuses a parallelism that is not a whole number ≥ 1', () => {
    expect(() => buildLoadtestJob({name: 'x', namespace: 'n', image: 'i', parallel: 0, runId: 'r', args: [], activeDeadlineSeconds: 1})).toThrow(
      'parallel must be',
    )
  })

  it('keeps the name a DNS label', () => {
    expect(jobName('A'.repeat(80))).toHaveLength(63)
    expect(jobName('Run-1')).toBe('keda-lab-loadtest-run-1')
  })
})
