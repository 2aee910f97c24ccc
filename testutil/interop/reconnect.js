// Scenario "reconnect": realtime-js joins --topic, the test cuts the socket, and realtime-js
// must reconnect and rejoin on its own.
//
//   node reconnect.js --url URL --key KEY --topic room [--reconnect-ms 100]
//
// Emits every channel status ({"kind":"status"}), the socket's opens and closes, a
// {"kind":"joined"} with the join_ref at each SUBSCRIBED, and a {"kind":"summary"} after the
// second; then waits for the end of stdin.
'use strict'

const lib = require('./lib')

lib.run(async () => {
  const topic = lib.arg('topic', 'interop')
  const reconnectMs = Number(lib.arg('reconnect-ms', 100))
  const client = lib.newClient({ reconnectAfterMs: () => reconnectMs })
  const counts = lib.watchSocket(client)
  const channel = client.channel(topic)
  const statuses = []
  let joins = 0
  await new Promise((resolve, reject) => {
    lib
      .subscribe(channel, (status) => {
        statuses.push(status)
        if (status !== 'SUBSCRIBED') return
        joins++
        lib.emit({ kind: 'joined', topic: channel.topic, join_ref: channel.joinPush.ref, n: joins })
        if (joins === 2) resolve()
      })
      .catch(reject)
  })
  lib.emit({ kind: 'summary', statuses, opens: counts.opens, closes: counts.closes, connected: client.isConnected() })
  await lib.waitForEOF()
  lib.done()
})
