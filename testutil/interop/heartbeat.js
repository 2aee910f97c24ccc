// Scenario "heartbeats": realtime-js with a short heartbeat interval keeps a socket open.
//
//   node heartbeat.js --url URL --key KEY --interval-ms 500 --duration-ms 1750
//
// Emits every heartbeat status its heartbeatCallback sees ({"kind":"heartbeat"}), the socket's
// opens and closes, and after --duration-ms a {"kind":"summary"}; then waits for the end of
// stdin.
'use strict'

const lib = require('./lib')

lib.run(async () => {
  const intervalMs = Number(lib.arg('interval-ms', 500))
  const durationMs = Number(lib.arg('duration-ms', 3.5 * intervalMs))
  const statuses = []
  const client = lib.newClient({
    heartbeatIntervalMs: intervalMs,
    heartbeatCallback: (status, latency) => {
      statuses.push(status)
      lib.emit({ kind: 'heartbeat', status, latency })
    },
  })
  const counts = lib.watchSocket(client)
  const opened = new Promise((resolve) => client.socketAdapter.onOpen(resolve))
  client.connect()
  await opened
  await lib.sleep(durationMs)
  lib.emit({
    kind: 'summary',
    statuses,
    opens: counts.opens,
    closes: counts.closes,
    connected: client.isConnected(),
    heartbeat_interval_ms: client.heartbeatIntervalMs,
  })
  await lib.waitForEOF()
  lib.done()
})
