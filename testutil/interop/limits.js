// Scenario "channel limit": one realtime-js client joins --count channels, interop:limit:0 …
// interop:limit:N-1, in that order, on its one socket, and reports what each one becomes.
//
//   node limits.js --url URL --key KEY --count 4
//
// Emits the statuses of every channel ({"kind":"status"}, each topic's statuses in order),
// {"kind":"settled", subscribed, errors} once every channel has reported SUBSCRIBED or
// CHANNEL_ERROR, and every broadcast the channels receive ({"kind":"broadcast"}). The socket's
// opens and closes are reported ({"kind":"socket"}). It waits for the end of stdin.
'use strict'

const lib = require('./lib')

lib.run(async () => {
  const count = Number(lib.arg('count', 4))
  const client = lib.newClient()
  lib.watchSocket(client)
  const firsts = new Map()
  let settle
  const settled = new Promise((resolve) => {
    settle = resolve
  })
  for (let i = 0; i < count; i++) {
    const channel = client.channel(`interop:limit:${i}`)
    lib.listen(channel)
    channel.subscribe((status, err) => {
      lib.emit({ kind: 'status', topic: channel.topic, status, error: err ? String(err.message || err) : undefined })
      if (firsts.has(channel.topic) || (status !== 'SUBSCRIBED' && status !== 'CHANNEL_ERROR')) return
      firsts.set(channel.topic, { status, error: err ? String(err.message || err) : undefined })
      if (firsts.size === count) settle()
    })
  }
  await settled
  const subscribed = []
  const errors = {}
  for (const [topic, s] of firsts) {
    if (s.status === 'SUBSCRIBED') subscribed.push(topic)
    else errors[topic] = s.error
  }
  lib.emit({ kind: 'settled', subscribed: subscribed.sort(), errors })
  await lib.waitForEOF()
  lib.done()
})
