/**
 * The logs of a cluster run's pods (cluster-runner.ts): each running pod's log is followed
 * (follow=true), so what a shard prints reaches keda-lab as it prints it, its last lines too: a
 * stopped pod is removed as soon as its process has exited, too soon for a log read once a second.
 * A finished pod's log is also read whole, once. The shards' records go to the series merger as
 * they come; their summaries are kept for the end of the run.
 */
import type {Kube, PodInfo} from '../../adapters/kube/index.js'
import {COMPLETION_INDEX_LABEL, SHARD_CONTAINER} from './cluster-job.js'
import type {SeriesMerger} from './merge.js'
import type {LoadSummary, SecondRecord} from './records.js'
import {ShardLogReader} from './shard-log.js'

/** The shard a pod of the Job runs (its completion index). */
export const shardIndex = (p: PodInfo) => Number(p.labels[COMPLETION_INDEX_LABEL])

type Shard = {index: number; reader: ShardLogReader; following: boolean; followed: boolean; done: boolean}

/** The pods' logs of one cluster run, by pod, fed to the run's series merger. */
export class ShardLogs {
  private readonly byPod = new Map<string, Shard>()
  private readonly follows = new AbortController()

  constructor(
    private readonly kube: Pick<Kube, 'readPodLog' | 'followPodLog'>,
    private readonly namespace: string,
    private readonly merger: Pick<SeriesMerger, 'add'>,
  ) {}

  /** A pod's whole log, as it is now. */
  async read(p: PodInfo): Promise<string> {
    return this.kube.readPodLog(this.namespace, p.name, SHARD_CONTAINER)
  }

  /** Follows the logs of the running pods not followed yet (one that cannot be, yet, is tried again next time). */
  followLogs(pods: readonly PodInfo[]): void {
    for (const p of pods) {
      if (p.phase !== 'Running') continue
      const entry = this.shardOf(p)
      if (entry.following || entry.followed) continue
      entry.following = true
      void this.kube
        .followPodLog(this.namespace, p.name, SHARD_CONTAINER, (text) => this.take(entry, entry.reader.append(text)), this.follows.signal)
        .then(
          () => {
            entry.followed = true
          },
          () => {},
        )
        .finally(() => {
          entry.following = false
        })
    }
  }

  /** Reads the whole logs of the finished pods, once (what a follow may not have had yet). */
  async readLogs(pods: readonly PodInfo[]): Promise<void> {
    await Promise.all(
      pods
        .filter((p) => p.phase === 'Succeeded' || p.phase === 'Failed')
        .map(async (p) => {
          const entry = this.shardOf(p)
          if (entry.done) return
          const log = await this.read(p).catch(() => undefined) // the pod just went: what was followed is all there is
          if (log === undefined) return
          this.take(entry, entry.reader.feed(log))
          entry.done = true
        }),
    )
  }

  /** A second is merged once every shard still running has reported past it. */
  horizon(pods: readonly PodInfo[]): number {
    let before = Number.POSITIVE_INFINITY
    let running = 0
    for (const p of pods) {
      const entry = this.byPod.get(p.name)
      if (p.phase !== 'Running' || entry?.reader.summary) continue
      running++
      before = Math.min(before, entry?.reader.lastSecond ?? Number.NEGATIVE_INFINITY)
    }
    return running === 0 ? Number.NEGATIVE_INFINITY : before
  }

  /** The summary a pod's shard printed, if it has. */
  summaryOf(pod: string): LoadSummary | undefined {
    return this.byPod.get(pod)?.reader.summary
  }

  /** The summaries the shards printed so far. */
  summaries(): LoadSummary[] {
    return [...this.byPod.values()].flatMap((e) => (e.reader.summary ? [e.reader.summary] : []))
  }

  /** Stops following the logs. */
  close(): void {
    this.follows.abort()
  }

  private shardOf(p: PodInfo): Shard {
    const entry = this.byPod.get(p.name) ?? {index: shardIndex(p), reader: new ShardLogReader(p.name), following: false, followed: false, done: false}
    this.byPod.set(p.name, entry)
    return entry
  }

  private take(entry: Shard, records: readonly SecondRecord[]): void {
    for (const r of records) this.merger.add(entry.index, r)
  }
}
