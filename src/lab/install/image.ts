/**
 * Which image the lab runs and how it gets into the cluster, decided in one place: `--image` when
 * given; otherwise built into the cluster from this package (minikube/kind, the package ships its
 * Dockerfile and dist/); otherwise the published image `ghcr.io/<owner>/<repo>:<version>`, named
 * after package.json's `repository` (src/config/package.ts). A pulled image is checked against its
 * registry before anything changes (src/adapters/registry.ts).
 */
import type {ClusterKind} from '../../adapters/cluster-tools.js'
import {credentialsFor, type ImageCheck, parseImageReference, type RegistryCredentials} from '../../adapters/registry.js'
import {type KedaLabPackage, publishedImageName} from '../../config/package.js'

/** How the app's image reaches the cluster. */
export type ImageSource = {kind: 'flag'; ref: string} | {kind: 'published'; ref: string} | {kind: 'build'}

/** The published image of this version: {@link publishedImageName} (package.json's `repository`) tagged with the version. */
export function publishedImage(pkg: Pick<KedaLabPackage, 'repository' | 'version'>): string {
  return `${publishedImageName(pkg)}:${pkg.version}`
}

/** `--image`, else a build into minikube/kind when the package can build, else the published image. */
export function imageSource(options: {image?: string; clusterKind: ClusterKind; dockerfileExists: boolean; publishedImage: string}): ImageSource {
  if (options.image) return {kind: 'flag', ref: options.image}
  if (options.clusterKind !== 'other' && options.dockerfileExists) return {kind: 'build'}
  return {kind: 'published', ref: options.publishedImage}
}

/** What pre-flight learned about a pulled image. */
export interface ImageFacts {
  ref: string
  source: 'flag' | 'published'
  check: ImageCheck
  /** The pull secret named with --image-pull-secret, as found in the app namespace (never its content). */
  pullSecret?: {name: string; found: boolean; hasCredentials: boolean}
  /** The registry the check asked instead of the image's own (KEDA_LAB_REGISTRY_MIRROR). */
  mirror?: string
}

/** Reads the pull secret (if named) and asks the registry; every edge is passed in. */
export async function checkAppImage(input: {
  ref: string
  source: 'flag' | 'published'
  pullSecret?: string
  namespace: string
  /** Reads a Secret's data (undefined when it does not exist). */
  readSecret: (namespace: string, name: string) => Promise<Record<string, string> | undefined>
  check: (ref: string, options: {credentials?: RegistryCredentials}) => Promise<ImageCheck>
  mirror?: string
}): Promise<ImageFacts> {
  let credentials: RegistryCredentials | undefined
  let pullSecret: ImageFacts['pullSecret']
  if (input.pullSecret) {
    const data = await input.readSecret(input.namespace, input.pullSecret)
    const config = data?.['.dockerconfigjson']
    credentials = config ? credentialsFor(config, parseImageReference(input.ref).registry) : undefined
    pullSecret = {name: input.pullSecret, found: data !== undefined, hasCredentials: credentials !== undefined}
  }
  const asked = input.mirror ? mirrored(input.ref, input.mirror) : input.ref
  const check = await input.check(asked, {credentials})
  return {ref: input.ref, source: input.source, check, pullSecret, mirror: input.mirror}
}

/** The same repository and reference on another registry (a pull-through mirror). */
export function mirrored(ref: string, mirror: string): string {
  const image = parseImageReference(ref)
  const host = mirror.replace(/^https?:\/\//, '').replace(/\/+$/, '')
  const separator = image.reference.startsWith('sha256:') ? '@' : ':'
  return `${host}/${image.repository}${separator}${image.reference}`
}
