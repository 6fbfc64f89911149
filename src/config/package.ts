/**
 * Where keda-lab's own files are (package.json, templates/, the Dockerfile) and what its
 * package.json says. The code runs from three layouts: the TypeScript sources (src/config/), the
 * bundle (dist/chunks/, scripts/bundle.mjs) and the installed package or image (the bundle again),
 * so the root is found by walking up to the package.json named keda-lab instead of counting `..`.
 */
import {existsSync, readFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

/** The parts of keda-lab's package.json the CLI reads. */
export interface KedaLabPackage {
  name: string
  version: string
  /** Where the project lives; its GitHub repository names the published image ({@link publishedImageName}). */
  repository?: string | {type?: string; url?: string}
}

/**
 * The published image's name without its tag: `ghcr.io/<owner>/<repo>` of the GitHub repository in
 * package.json's `repository`, the one place it is named. The release workflow pushes to it
 * (.github/workflows/release.yml runs this function) and `install` pulls from it, so the two cannot
 * drift apart. ghcr.io takes lower-case names only.
 */
export function publishedImageName(pkg: Pick<KedaLabPackage, 'repository'>): string {
  const raw = typeof pkg.repository === 'string' ? pkg.repository : pkg.repository?.url
  // npm's forms: `owner/repo`, `github:owner/repo`, and git URLs (`git+https://github.com/o/r.git`, `git@github.com:o/r.git`).
  const match =
    /^(?:github:)?([\w.-]+)\/([\w.-]+?)$/.exec(raw ?? '') ??
    /^(?:git\+)?(?:https?|ssh|git):\/\/(?:[^@/]+@)?github\.com[/:]([\w.-]+)\/([\w.-]+?)(?:\.git)?\/?$/.exec(raw ?? '') ??
    /^git@github\.com:([\w.-]+)\/([\w.-]+?)(?:\.git)?$/.exec(raw ?? '')
  if (!match?.[1] || !match[2]) {
    throw new Error(
      `package.json's repository (${raw ?? 'not set'}) is not a GitHub repository: the published image (ghcr.io/<owner>/<repo>) is named after it`,
    )
  }
  return `ghcr.io/${match[1]}/${match[2]}`.toLowerCase()
}

/** The nearest folder at or above `from` holding the package.json of `name`. */
export function findPackageRoot(from: string, name = 'keda-lab'): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json')
    if (existsSync(file)) {
      try {
        if ((JSON.parse(readFileSync(file, 'utf8')) as {name?: string}).name === name) return dir
      } catch {
        // an unreadable package.json of something else: keep walking up
      }
    }
    if (dirname(dir) === dir) throw new Error(`no package.json of ${name} at or above ${from}`)
  }
}

/** keda-lab's package root (holds package.json, templates/ and the Dockerfile). */
export const PACKAGE_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)))

let cached: KedaLabPackage | undefined

/** keda-lab's package.json (read once). */
export function packageJson(): KedaLabPackage {
  cached ??= JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as KedaLabPackage
  return cached
}

/**
 * The copy in the bundle of a file or folder of an npm package that keda-lab reads at run time
 * rather than imports (`uplot/dist/uPlot.min.css`), or undefined when running from the sources.
 * scripts/bundle.mjs finds every `packageAsset('…')` and `bundledAsset('…')` in src/ and copies what
 * they name to dist/assets/, since the installed package has no node_modules to read it from.
 */
export function bundledAsset(specifier: string): string | undefined {
  const copy = join(PACKAGE_ROOT, 'dist', 'assets', specifier)
  return existsSync(copy) ? copy : undefined
}

/** The path of a package's file read at run time: the bundle's copy, or node_modules' from the sources. */
export function packageAsset(specifier: string): string {
  return bundledAsset(specifier) ?? createRequire(import.meta.url).resolve(specifier)
}
