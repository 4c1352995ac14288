// Root hooks shared by every test file. Services (redis-server) are started lazily by the
// helpers that need them and stopped here at the end of the run.
import { stopAllServices } from './services.js'

export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(20_000)
    await stopAllServices()
  },
}
