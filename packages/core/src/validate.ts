// Start-up validation helpers: every message names the option and what is allowed.

export function optionError(name: string, allowed: string, got: unknown): TypeError {
  return new TypeError(`${name} must be ${allowed} (got ${describe(got)})`)
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
  if (typeof value === 'function') return 'a function'
  if (Array.isArray(value)) return 'an array'
  if (value === null) return 'null'
  if (typeof value === 'object') return 'an object'
  return String(value)
}

/** Returns `value` or `fallback` when undefined; throws when it is not a positive finite number. */
export function positiveNumber(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw optionError(name, 'a positive number of milliseconds', value)
  }
  return value
}

export function positiveInteger(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw optionError(name, 'a positive integer', value)
  }
  return value
}

/** A whole number of bytes, 0 included. */
export function byteCount(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw optionError(name, 'a whole number of bytes (0 or more)', value)
  }
  return value
}

export function fraction(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !(value >= 0 && value < 1)) {
    throw optionError(name, 'a number from 0 (inclusive) to 1 (exclusive)', value)
  }
  return value
}

export function boolean(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw optionError(name, 'true or false', value)
  return value
}

export function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw optionError(name, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value)
  }
  return value as T
}

/** Warns once per code, like Node's own deprecation warnings, for setups that work but are risky. */
const warned = new Set<string>()
export function warnOnce(code: string, message: string): void {
  if (warned.has(code)) return
  warned.add(code)
  process.emitWarning(message, { type: 'TetherWarning', code })
}

/** Edit distance between two option names (Levenshtein, small strings only). */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!
      row[j] = Math.min(above + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1))
      diagonal = above
    }
  }
  return row[b.length]!
}

/**
 * Throws a TypeError for a key of `options` that is not one of `known`, naming it and the nearest
 * known one: a typo (`idleTimout`) must not leave a default silently in force.
 */
export function rejectUnknownOptions(options: object, known: readonly string[], prefix = ''): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue
    let nearest = known[0] ?? ''
    for (const name of known) if (distance(key, name) < distance(key, nearest)) nearest = name
    const hint =
      distance(key, nearest) <= Math.max(2, Math.floor(nearest.length / 3))
        ? `did you mean ${prefix}${nearest}?`
        : `the known options are ${known.map((k) => prefix + k).join(', ')}`
    throw new TypeError(`${prefix}${key} is not an option: ${hint}`)
  }
}

/**
 * `true` when the list `N` names every key of the options type `T`, else the missing keys: declare
 * `const named: EveryOptionNamed<Options, typeof NAMES> = true` so a new option cannot be left out
 * of the unknown-key check.
 */
export type EveryOptionNamed<T, N extends readonly PropertyKey[]> =
  Exclude<keyof T, N[number]> extends never ? true : Exclude<keyof T, N[number]>
