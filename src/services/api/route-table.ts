/** A route pattern and the methods it answers (HEAD included wherever GET is). */
export interface RouteMatch {
  pattern: string
  methods: string[]
}

/**
 * The API's routes, to answer a known path asked with the wrong method with 405 and an `Allow`
 * header instead of a 404. Filled from Fastify's onRoute hook; consulted only on the unhappy path
 * (an unknown route, or an id that cannot be a task), never per successful request.
 */
export interface RouteTable {
  add(pattern: string, methods: string | string[]): void
  /**
   * The most specific pattern matching a concrete path, as Fastify's router would choose it
   * (a static segment beats a parameter, a parameter beats a wildcard), with every method it
   * answers; undefined when no route has this path.
   */
  match(path: string): RouteMatch | undefined
}

interface Entry {
  pattern: string
  regex: RegExp
  /** Lower is more specific: 1 per parameter, 100 per wildcard. */
  weight: number
  methods: Set<string>
}

const escapeRegex = (text: string) => text.replaceAll(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** Creates an empty route table. */
export function createRouteTable(): RouteTable {
  const entries = new Map<string, Entry>()
  return {
    add(pattern, methods) {
      let entry = entries.get(pattern)
      if (!entry) {
        let weight = 0
        const source = pattern
          .split('/')
          .map((segment) => {
            if (segment === '*') {
              weight += 100
              return '.*'
            }
            if (segment.startsWith(':')) {
              weight += 1
              return '[^/]+'
            }
            return escapeRegex(segment)
          })
          .join('/')
        entry = {pattern, regex: new RegExp(`^${source}/?$`), weight, methods: new Set()}
        entries.set(pattern, entry)
      }
      for (const method of Array.isArray(methods) ? methods : [methods]) {
        entry.methods.add(method)
        if (method === 'GET') entry.methods.add('HEAD')
      }
    },
    match(path) {
      let best: Entry | undefined
      for (const entry of entries.values()) {
        if (entry.regex.test(path) && (!best || entry.weight < best.weight)) best = entry
      }
      return best && {pattern: best.pattern, methods: [...best.methods].sort()}
    },
  }
}
