import { connect } from 'node:net'
import { expect } from 'chai'
import type { ReplicaPlanMessage, SnapshotMessage } from '../../packages/cluster/src/messages.js'
import {
  ACK,
  BATCH,
  decodeAck,
  decodeBatch,
  encodeAck,
  encodeBatch,
  encodeHello,
  FrameReader,
  MAX_FRAME,
} from '../../packages/cluster/src/replication/peer-frames.js'
import type { WireChange } from '../../packages/cluster/src/replication/wire.js'
import { waitFor } from '../support/load-loop.js'
import { changeOf, planOf, startHub } from '../support/replica-hubs.js'
import { startSocketGate } from '../support/socket-gate.js'

// The direct channel between two workers' replication: its framing, who may use it, and what an
// owner does when the connection to its backup breaks or runs ahead of the backup's plan.

const CHANGES: WireChange[] = [
  [0, 0, 'id-é', 'w0', { count: '1', name: '"quoted" ✓' }, ['gone'], 1, 2, 3, 3, null, 'alice'],
  [0, 1, 'id2', 'w0', 4, 5],
  [1, 2, 'id3', 'w1'],
]

function framesOf(chunks: readonly Buffer[]): Array<[number, Buffer]> {
  const frames: Array<[number, Buffer]> = []
  const reader = new FrameReader((kind, body) => frames.push([kind, Buffer.from(body)]))
  for (const chunk of chunks) reader.push(chunk)
  return frames
}

describe('replica channel framing', () => {
  it('reads frames back whole, however the stream is cut', () => {
    const stream = Buffer.concat([encodeBatch(7, CHANGES), encodeAck([0, 2, 1]), encodeBatch(8, [])])
    const cuts = [
      [stream],
      [...stream].map((byte) => Buffer.from([byte])),
      [stream.subarray(0, 3), stream.subarray(3, 40), stream.subarray(40)],
    ]
    for (const chunks of cuts) {
      const frames = framesOf(chunks)
      expect(frames.map(([kind]) => kind)).to.deep.equal([BATCH, ACK, BATCH])
      expect(decodeBatch(frames[0]![1])).to.deep.equal({ epoch: 7, changes: CHANGES })
      expect(decodeAck(frames[1]![1])).to.deep.equal([0, 2, 1])
      expect(decodeBatch(frames[2]![1])).to.deep.equal({ epoch: 8, changes: [] })
    }
  })

  it('refuses a length past the bound instead of buffering it', () => {
    const header = Buffer.alloc(5)
    header.writeUInt32LE(MAX_FRAME + 1, 0)
    expect(() => framesOf([header])).to.throw(RangeError)
  })
})

describe('the replica channel between two workers', () => {
  const closing: Array<{ close(): unknown }> = []
  afterEach(async () => {
    for (const c of closing.splice(0)) await c.close()
  })

  it('closes a connection without the key, or with garbage after it, applying nothing', async () => {
    const backup = await startHub('w1', 'sync', 1_000)
    closing.push(backup.hub)
    backup.hub.onMessage(planOf(1, { address: '/nowhere', key: 'k' }, backup.peer))
    const garbled = encodeBatch(1, CHANGES)
    garbled.write('{', 9)
    const streams = [
      [encodeHello('not-the-key'), encodeBatch(1, CHANGES)],
      [encodeBatch(1, CHANGES)],
      [encodeHello(backup.peer.key), garbled, encodeBatch(1, CHANGES)],
    ]
    for (const frames of streams) {
      const socket = connect(backup.peer.address)
      socket.on('error', () => undefined)
      socket.write(Buffer.concat(frames))
      await new Promise((resolve) => socket.on('close', resolve))
    }
    expect(backup.source.applied).to.deep.equal([])
  })

  it('a backup connection cut mid-batch: the write is not held, and its sessions arrive whole later', async () => {
    const owner = await startHub('w0', 'sync', 5_000, 200)
    const backup = await startHub('w1', 'sync', 5_000)
    const gate = await startSocketGate(backup.peer.address)
    closing.push(owner.hub, backup.hub, gate)
    backup.hub.onMessage(planOf(1, owner.peer, backup.peer))
    owner.hub.onMessage(planOf(1, owner.peer, { address: gate.address, key: backup.peer.key }))
    // Past the hello, in the middle of the first batch.
    gate.cut(60)
    for (const id of owner.source.versions.keys()) {
      owner.source.versions.set(id, 1)
      owner.feed.changed(changeOf(owner.source, id))
    }
    const started = Date.now()
    await owner.feed.settled()
    expect(Date.now() - started, 'released when the connection closed, not at the timeout').to.be.below(2_000)
    expect(owner.hub.stats().dropped).to.equal(200)
    expect(backup.source.applied).to.deep.equal([])
    // Sent again, whole, on a new connection.
    await waitFor(() => backup.source.applied.length === 200 && owner.hub.stats().pending === 0, 5_000)
    for (const change of backup.source.applied) expect(change).to.include({ op: 'write', full: true })
    expect(owner.hub.stats()).to.include({ acknowledged: 200, unacknowledged: 0 })
  })

  it('a batch chosen by a plan the backup has not read yet waits for that plan', async () => {
    const owner = await startHub('w0', 'async', 1_000, 1)
    const backup = await startHub('w1', 'async', 1_000)
    closing.push(owner.hub, backup.hub)
    // The backup's plan is older: it does not keep w0 yet, and would throw the copy away.
    const older: ReplicaPlanMessage = {
      tether: 'replica-plan',
      epoch: 1,
      peers: [owner.peer],
      routes: [['w0', 0, -1]],
    }
    backup.hub.onMessage(older)
    owner.hub.onMessage(planOf(2, owner.peer, backup.peer))
    owner.feed.changed(owner.source.current('id0', 'w0'))
    await waitFor(() => owner.hub.stats().sent === 1)
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(backup.source.applied).to.deep.equal([])
    expect(owner.hub.stats().pending).to.equal(1)
    backup.hub.onMessage(planOf(2, owner.peer, backup.peer))
    await waitFor(() => owner.hub.stats().acknowledged === 1)
    expect(backup.source.applied.length).to.equal(1)
  })

  it('reports a snapshot done to the primary only once the backup has applied all of it', async () => {
    const owner = await startHub('w0', 'async', 1_000, 500)
    const backup = await startHub('w1', 'async', 1_000)
    const gate = await startSocketGate(backup.peer.address)
    closing.push(owner.hub, backup.hub, gate)
    backup.hub.onMessage(planOf(1, owner.peer, backup.peer))
    owner.hub.onMessage(planOf(1, owner.peer, { address: gate.address, key: backup.peer.key }))
    gate.hold()
    const snapshot: SnapshotMessage = { tether: 'replica-snapshot', route: 'w0', tag: 7 }
    owner.hub.onMessage(snapshot)
    await waitFor(() => owner.hub.stats().sent === 500)
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(owner.messages.filter((m) => m.tether === 'replica-snapshot-done')).to.deep.equal([])
    gate.release()
    await waitFor(() => owner.messages.some((m) => m.tether === 'replica-snapshot-done'))
    expect(owner.messages.filter((m) => m.tether === 'replica-snapshot-done')).to.deep.equal([
      { tether: 'replica-snapshot-done', tags: [7] },
    ])
    expect(backup.source.applied.length).to.equal(500)
  })
})
