// Why most steps of a request's session come in two forms, `x()` and `xNow()`:
//
// The asynchronous forms (`open`, `acquire`, `load`, `flush`, `commit`) work with any store. The
// synchronous ones do the same work in the request's own turn of the event loop, for the cases
// that need no wait: an in-process store (MemoryStore's getNow/writeNow/touchNow), a record the
// store has in its cache (getCached), a request without a cookie, a session that a request in
// flight already holds, a commit with nothing to write. They save the promises and, in Express,
// the queued response writes of every such request. Measured on the adapters bench when it was
// added (commits 4c43c0b and 239b932; the run is recorded in be1b70a): Express + Tether went from
// 0.75x to 0.79x plain Express in req/s on the counter workload, and from 1.36x to 1.30x its CPU
// per request; HybridStore cache hits stopped costing a promise and a setImmediate.
//
// Each pair shares its logic: the synchronous form answers WAIT (or LOADING, or undefined where
// documented) the moment it would have to wait, before it has changed anything, and the caller
// then takes the asynchronous form from the start.

/** Returned by the synchronous forms when the store or the moment needs the asynchronous one. */
export const WAIT: unique symbol = Symbol('tether.wait')

/** An asynchronous load of the session is under way, or must be: `open()` is needed. */
export const LOADING: unique symbol = Symbol('tether.loading')
