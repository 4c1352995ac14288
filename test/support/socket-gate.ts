// A Unix-socket relay between a replication owner and its backup's replica socket, that a test can
// hold (stop reading from the owner, as a stopped backup would), release, or cut (every connection
// closed, as when the backup dies), optionally once a given number of bytes went through.
import { mkdtempSync, rmSync } from 'node:fs'
import { connect, createServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface SocketGate {
  /** Where the owner connects instead of the backup. */
  readonly address: string
  /** Bytes passed from owners to the backup so far. */
  readonly forwarded: number
  hold(): void
  release(): void
  /** Closes every connection now, or once `afterBytes` more bytes passed (cut mid-stream). */
  cut(afterBytes?: number): void
  close(): Promise<void>
}

export async function startSocketGate(target: string): Promise<SocketGate> {
  const directory = mkdtempSync(join(tmpdir(), 'tether-gate-'))
  const address = join(directory, 'gate.sock')
  const pairs = new Set<[Socket, Socket]>()
  let held = false
  let forwarded = 0
  let cutAt: number | undefined
  const cutAll = () => {
    for (const [a, b] of pairs) {
      a.destroy()
      b.destroy()
    }
    pairs.clear()
  }
  const server = createServer((owner) => {
    const backup = connect(target)
    const pair: [Socket, Socket] = [owner, backup]
    pairs.add(pair)
    const drop = () => {
      pairs.delete(pair)
      owner.destroy()
      backup.destroy()
    }
    owner.on('error', drop).on('close', drop)
    backup.on('error', drop).on('close', drop)
    owner.on('data', (chunk: Buffer) => {
      if (cutAt !== undefined && forwarded + chunk.length >= cutAt) {
        backup.write(chunk.subarray(0, cutAt - forwarded))
        forwarded = cutAt
        cutAt = undefined
        cutAll()
        return
      }
      forwarded += chunk.length
      backup.write(chunk)
    })
    backup.pipe(owner)
    if (held) owner.pause()
  })
  await new Promise<void>((resolve) => server.listen(address, resolve))
  return {
    address,
    get forwarded() {
      return forwarded
    },
    hold() {
      held = true
      for (const [owner] of pairs) owner.pause()
    },
    release() {
      held = false
      for (const [owner] of pairs) owner.resume()
    },
    cut(afterBytes) {
      if (afterBytes === undefined) cutAll()
      else cutAt = forwarded + afterBytes
    },
    close: () =>
      new Promise((resolve) => {
        cutAll()
        server.close(() => {
          rmSync(directory, { recursive: true, force: true })
          resolve()
        })
      }),
  }
}
