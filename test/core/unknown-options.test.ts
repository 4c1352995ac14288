import { execFileSync } from 'node:child_process'
import { HybridStore, MemoryStore, RedisStore, SessionManager } from '@tether/core'
import { expect } from 'chai'
import { resolveClusterOptions } from '../../packages/cluster/src/options.js'

const secret = 'a-secret-of-at-least-32-characters-for-options'

describe('options with a typo', () => {
  it('are refused, naming the key and the nearest known one', () => {
    const cases: Array<[() => unknown, RegExp]> = [
      [
        () => new SessionManager({ secret, idleTimout: 1000 } as never),
        /^idleTimout is not an option: did you mean idleTimeout\?/,
      ],
      [
        () => new SessionManager({ secret, cookie: { sameSit: 'lax' } } as never),
        /^cookie\.sameSit is not an option: did you mean cookie\.sameSite\?/,
      ],
      [
        () => new MemoryStore({ maxSession: 10 } as never),
        /^maxSession is not an option: did you mean maxSessions\?/,
      ],
      [
        () => new RedisStore({ client: {} as never, prefx: 'a:' } as never),
        /^prefx is not an option: did you mean prefix\?/,
      ],
      [
        () => new HybridStore({ client: {} as never, maxEntrys: 5 } as never),
        /^maxEntrys is not an option: did you mean maxEntries\?/,
      ],
      [
        () => resolveClusterOptions({ strategy: ['cookie'] } as never),
        /^strategy is not an option: did you mean strategies\?/,
      ],
      [
        () => resolveClusterOptions({ zzzzzzzzzz: 1 } as never),
        /^zzzzzzzzzz is not an option: the known options are workers, port, host/,
      ],
    ]
    for (const [make, message] of cases) expect(make).to.throw(TypeError, message)
  })

  it('still take the adapters’ own option (retryAfter) through the manager', () => {
    expect(() => new SessionManager({ secret, retryAfter: 3 } as never)).not.to.throw()
  })
})

describe('an idle timeout longer than the absolute timeout', () => {
  it('is accepted with a warning (the idle timeout would never apply)', function () {
    this.timeout(20_000)
    // In a process of its own: the warning is given once per process, and another test may have had it.
    const program = `
      import { SessionManager } from '@tether/core'
      process.on('warning', (w) => console.log(JSON.stringify({ code: w.code, message: w.message })))
      const manager = new SessionManager({ secret: '${secret}', idleTimeout: 60_000, absoluteTimeout: 20_000 })
      await manager.close()`
    const out = execFileSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '--conditions=tether-source',
        '--no-warnings',
        '--input-type=module',
        '-e',
        program,
      ],
      // Not collected by c8 (NODE_V8_COVERAGE): its coverage of the same files would not merge.
      { encoding: 'utf8', env: { ...process.env, NODE_V8_COVERAGE: '' } },
    )
    const warning = JSON.parse(out.trim().split('\n')[0]!) as { code: string; message: string }
    expect(warning.code).to.equal('TETHER_IDLE_OVER_ABSOLUTE')
    expect(warning.message).to.match(/idleTimeout \(60000 ms\) is larger than absoluteTimeout \(20000 ms\)/)
  })
})
