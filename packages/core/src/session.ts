/**
 * The shape of session data. Augment it to type `get` and `set`:
 *
 * @example
 * declare module '@tether/core' {
 *   interface SessionData {
 *     user: { id: number; role: 'admin' | 'user' }
 *     cart: string[]
 *   }
 * }
 */
// biome-ignore lint/suspicious/noEmptyInterface: declared empty so that apps can augment it.
export interface SessionData {}

/** Keys of SessionData, or any string when the app has not declared any. */
export type SessionKey = keyof SessionData extends never ? string : keyof SessionData | (string & {})
/** The type stored under `K`. */
export type SessionValue<K> = K extends keyof SessionData ? SessionData[K] : unknown

/** Which keys survive `regenerate()`. */
export interface RegenerateOptions {
  /**
   * `true` keeps all data (the usual login flow), `false` starts empty, a list keeps those keys.
   * @default true
   */
  keep?: boolean | readonly string[]
}

/**
 * A request's session, as `req.session` (Express) or `request.session` (Fastify).
 *
 * Values must survive JSON (they are stored as JSON): a Date comes back as a string, in the same
 * request too. `set` keeps a JSON copy and `get` returns a copy of its own, so an object is saved
 * only by `set`: change what `get` returned, then `set` it again. Neither the caller's object nor
 * a concurrent request of the same session sees the other's unsaved changes.
 */
export interface Session {
  /** A copy of the value under `key`, or undefined. */
  get<K extends SessionKey>(key: K): SessionValue<K> | undefined
  /** Stores a copy of `value` under `key` (`undefined` removes the key). Creates the session if needed. */
  set<K extends SessionKey>(key: K, value: SessionValue<K>): void
  /** Removes `key`; true when it was there. */
  delete(key: SessionKey): boolean
  has(key: SessionKey): boolean
  /** Keys currently set. */
  keys(): string[]
  /**
   * True while the session did not exist before this request (nothing is stored or sent until
   * something is set).
   */
  readonly isNew: boolean
  /**
   * Issues a new id (keeping the route), moves the data and ends the old id, so a cookie planted
   * before login is worthless afterwards. Call it on login and on any privilege change.
   */
  regenerate(options?: RegenerateOptions): Promise<void>
  /**
   * Ends the session: its record is removed and the cookie is expired. Requests still running
   * with the old cookie can no longer write it. This request continues with a fresh, empty session.
   */
  destroy(): Promise<void>
  /** Asks for the session's activity time to be recorded on commit even if the throttle would skip it. */
  touch(): void
}
