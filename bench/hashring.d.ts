// Types for the parts of the npm `hashring` package that bench/cluster-ring.ts uses (it ships none).
declare module 'hashring' {
  export default class HashRing {
    constructor(
      servers: string[] | Record<string, unknown>,
      algorithm?: string,
      options?: Record<string, unknown>,
    )
    get(key: string): string
    remove(server: string): this
    add(servers: string | string[]): this
  }
}
