/** Kubernetes resource quantities ('250m', '8Gi', '1e9') as numbers keda-lab computes with. */
/** CPU quantity ('4', '3800m', '0.5') to millicores. */
export function parseCpuMillis(quantity: string | undefined): number {
  if (!quantity) return 0
  if (quantity.endsWith('m')) return Number.parseInt(quantity, 10)
  if (quantity.endsWith('n')) return Math.floor(Number.parseInt(quantity, 10) / 1e6)
  return Math.round(Number.parseFloat(quantity) * 1000)
}

const memoryUnits: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
  k: 1e3,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  m: 1e-3,
}

/** Memory quantity ('16318948Ki', '8Gi', '1e9', '512M') to bytes. */
export function parseMemoryBytes(quantity: string | undefined): number {
  if (!quantity) return 0
  const match = /^([0-9.]+(?:e[0-9]+)?)([A-Za-z]*)$/.exec(quantity.trim())
  if (!match) return 0
  const unit = match[2] ?? ''
  return Math.round(Number.parseFloat(match[1]!) * (unit === '' ? 1 : (memoryUnits[unit] ?? 1)))
}
