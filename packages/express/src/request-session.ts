import { IncomingMessage } from 'node:http'
import type { Session } from '@tether/core'
import { holdOwner } from './commit-before-head.js'

/**
 * `req.session` without a property of its own per request. Express swaps every request's
 * prototype, which leaves it with a dictionary of properties that each added property makes V8
 * copy and grow. So `session` is an accessor on Express's shared `request` prototype (the one
 * every app's `request` inherits from, so mounted sub-apps see it too), which reads the session
 * from the request's hold (see commitBeforeHead for where that is kept).
 */
/** App prototypes already looked at: whether requests under them use the accessor. */
const viaAccessor = new WeakMap<object, boolean>()

/** The prototype looked at last and its answer: one app's requests all share one. */
let lastProto: object | null | undefined
let lastAccessor = false

/** Makes `req.session` show `session`, which must be its hold's session where the accessor works. */
export function exposeSession(req: IncomingMessage, session: Session): void {
  const proto = Object.getPrototypeOf(req) as object | null
  let accessor = proto === lastProto ? lastAccessor : proto === null ? false : viaAccessor.get(proto)
  if (accessor === undefined) {
    accessor = installAccessor(proto!)
    viaAccessor.set(proto!, accessor)
  }
  lastProto = proto
  lastAccessor = accessor
  if (!accessor) (req as IncomingMessage & { session: Session }).session = session
}

/**
 * Defines the accessor on the prototype right above IncomingMessage.prototype in `proto`'s chain
 * (Express's `request`). False when there is none (a bare Node request: Node's own prototype is
 * shared by every request of the process) or something else defines `session` there; such
 * requests get an own property instead.
 */
function installAccessor(proto: object): boolean {
  let base: object | null = proto
  while (base !== null && Object.getPrototypeOf(base) !== IncomingMessage.prototype) {
    base = Object.getPrototypeOf(base) as object | null
  }
  if (base === null) return false
  const existing = Object.getOwnPropertyDescriptor(base, 'session')
  if (existing !== undefined) return existing.get === sessionAccessor.get
  Object.defineProperty(base, 'session', sessionAccessor)
  return true
}

const sessionAccessor: PropertyDescriptor = {
  get(this: IncomingMessage): Session | undefined {
    return holdOwner(this)?.session
  },
  // Code that assigns req.session (other middleware, tests) gets an own property, as it would
  // without Tether, which then hides the accessor for that request.
  set(this: object, value: unknown): void {
    Object.defineProperty(this, 'session', { value, writable: true, enumerable: true, configurable: true })
  },
  configurable: true,
  enumerable: false,
}
