// Long-lived helper processes started by tests (redis-server, haproxy...), stopped after the run.
const stoppers: Array<() => Promise<void>> = []

export function onStop(stop: () => Promise<void>): void {
  stoppers.push(stop)
}

export async function stopAllServices(): Promise<void> {
  while (stoppers.length > 0) {
    await stoppers.pop()!().catch(() => undefined)
  }
}
