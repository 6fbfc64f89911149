/**
 * Kubernetes resource quantities ('250m', '8Gi', '1e9', '-0.5Ki') as numbers keda-lab computes
 * with, following apimachinery's `resource.ParseQuantity` exactly:
 *
 *   quantity        ::= signedNumber suffix
 *   suffix          ::= binarySI | decimalExponent | decimalSI
 *   binarySI        ::= Ki | Mi | Gi | Ti | Pi | Ei
 *   decimalSI       ::= n | u | m | "" | k | M | G | T | P | E
 *   decimalExponent ::= (e | E) signedInteger
 *   signedNumber    ::= [+|-] (digits | digits.digits | digits. | .digits | nothing, which is 0)
 *
 * The value is kept exact (a BigInt over a power of ten), then rounded the way the API server
 * does: a value finer than 1n is rounded up to the next nano (away from zero), and
 * `Value()`/`MilliValue()` round up (towards +infinity) to whole units / millis.
 */
import {KedaLabError} from '../../errors.js'

const DECIMAL_SUFFIX: Record<string, number> = {n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18}
const BINARY_SUFFIX: Record<string, number> = {Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60}

/** An exact quantity: `units / 10^9` (nano units), as the API server holds it after parsing. */
export interface Quantity {
  nanos: bigint
}

const pow10 = (n: number): bigint => 10n ** BigInt(n)

/** Divides rounding up (towards +infinity). */
const ceilDiv = (a: bigint, b: bigint): bigint => {
  const q = a / b
  return a % b !== 0n && a > 0n ? q + 1n : q
}

const invalid = (text: string, why: string): KedaLabError =>
  new KedaLabError(`"${text}" is not a Kubernetes quantity: ${why}`, {
    hint: "write a number with an optional sign, fraction and one suffix: n u m k M G T P E (decimal), Ki Mi Gi Ti Pi Ei (binary) or an exponent (e.g. '250m', '8Gi', '1e9', '1.5')",
  })

/** Parses a quantity as the API server does; throws a KedaLabError on anything it would reject. */
export function parseQuantity(input: string): Quantity {
  // The API server trims spaces around a quantity in JSON before parsing it (seen on the real one).
  const text = input.trim()
  const match = /^([+-]?)([0-9]*)(?:\.([0-9]*))?(.*)$/.exec(text)
  const [, sign = '', whole = '', fraction = '', suffix = ''] = match ?? []
  // The API server takes a missing number as 0 ('m', '.', '+', 'Ki' all parse as zero); only '' is refused.
  if (!match || text === '') throw invalid(text, 'it is empty')
  const digits = BigInt(`${whole}${fraction}` || '0') // value = digits / 10^fraction.length
  let numerator: bigint
  let denominator = pow10(fraction.length)
  const decimal = DECIMAL_SUFFIX[suffix]
  const binary = BINARY_SUFFIX[suffix]
  if (decimal !== undefined) {
    numerator = digits * pow10(9)
    if (decimal >= 0) numerator *= pow10(decimal)
    else denominator *= pow10(-decimal)
  } else if (binary !== undefined) {
    numerator = digits * pow10(9) * 2n ** BigInt(binary)
  } else if (/^[eE][+-]?[0-9]+$/.test(suffix)) {
    const exponent = Number.parseInt(suffix.slice(1), 10)
    if (!Number.isSafeInteger(exponent) || Math.abs(exponent) > 1000) throw invalid(text, 'its exponent is out of range')
    numerator = digits * pow10(9)
    if (exponent >= 0) numerator *= pow10(exponent)
    else denominator *= pow10(-exponent)
  } else {
    throw invalid(text, suffix.trim() === '' ? 'it has spaces' : `unknown suffix "${suffix}"`)
  }
  // Finer than a nano: rounded up to the next nano (the API server's rounding; "you asked for some").
  const nanos = ceilDiv(numerator, denominator)
  return {nanos: sign === '-' ? -nanos : nanos}
}

/** Like `Quantity.MilliValue()`: thousandths, rounded up. */
function milliValue(q: Quantity): number {
  return Number(ceilDiv(q.nanos, pow10(6)))
}

/** Like `Quantity.Value()`: whole units, rounded up. */
function value(q: Quantity): number {
  return Number(ceilDiv(q.nanos, pow10(9)))
}

/** CPU quantity ('4', '3800m', '0.5', '250u') to millicores (rounded up, as `MilliValue()`); absent: 0. */
export function parseCpuMillis(quantity: string | undefined): number {
  return quantity === undefined ? 0 : milliValue(parseQuantity(quantity))
}

/** Memory quantity ('16318948Ki', '8Gi', '1e9', '1E9', '512M') to bytes (rounded up, as `Value()`); absent: 0. */
export function parseMemoryBytes(quantity: string | undefined): number {
  return quantity === undefined ? 0 : value(parseQuantity(quantity))
}
