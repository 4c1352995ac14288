import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import https from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { HashRing } from '@tether/cluster'
import { expect } from 'chai'
import { type ClusterFixture, startClusterFixture } from '../support/cluster-fixture.js'
import { describeWith } from '../support/system-binaries.js'

/** A throw-away self-signed certificate for 127.0.0.1, made with the openssl CLI. */
function selfSignedCertificate(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tether-tls-'))
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    )
    return {
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

function get(port: number, path = '/'): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port, path, rejectUnauthorized: false, agent: false }, (res) => {
        let text = ''
        res.on('data', (chunk: Buffer) => {
          text += chunk
        })
        res.on('end', () => resolve(JSON.parse(text)))
      })
      .on('error', reject)
  })
}

describeWith('openssl', 'cluster in HTTPS mode', function () {
  this.timeout(30_000)
  let cluster: ClusterFixture
  before(async () => {
    cluster = await startClusterFixture(
      { workers: 2, host: '127.0.0.1', https: selfSignedCertificate() },
      {},
      'https-cluster',
    )
  })
  after(async () => cluster?.close())

  it('passes TLS through untouched to the worker the client address hashes to', async () => {
    const expected = new HashRing(['w0', 'w1']).get('127.0.0.1')
    for (let i = 0; i < 5; i++)
      expect(await get(cluster.port)).to.deep.equal({ route: expected, encrypted: true })
  })

  it('lets a slow HTTPS request finish while its worker drains in a reload', async () => {
    const slow = get(cluster.port, '/slow')
    await new Promise((resolve) => setTimeout(resolve, 100))
    await cluster.reload()
    expect(await slow).to.include({ encrypted: true })
  })
})
