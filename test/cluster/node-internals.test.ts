import { expect } from 'chai'
import { checkNodeInternals } from '../../packages/cluster/src/node-internals.js'

describe('the Node.js internals @tether/cluster relies on', () => {
  it(`are all there on this Node.js (${process.version})`, () => {
    expect(checkNodeInternals()).to.deep.equal([])
  })
})
