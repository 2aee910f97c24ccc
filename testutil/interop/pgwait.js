// Scenario "wait for postgres_changes": realtime-js joins --topic with one postgres_changes
// listener (INSERT on public.todos) and the channel config
// postgres_changes_options: {wait: true, timeout: --wait-timeout}.
//
//   node pgwait.js --url URL --key KEY --topic db --wait-timeout 5000
//
// Emits every status of the channel ({"kind":"status"}; realtime-js keeps retrying a refused
// join), every system message ({"kind":"system", payload}), {"kind":"subscribed"} at the first
// SUBSCRIBED, and every change the listener receives ({"kind":"change", payload}). It waits for
// the end of stdin.
'use strict'

const lib = require('./lib')

lib.run(async () => {
  const topic = lib.arg('topic', 'interop:pgwait')
  const timeout = Number(lib.arg('wait-timeout', 5000))
  const client = lib.newClient()
  lib.watchSocket(client)
  const channel = client.channel(topic, { config: { postgres_changes_options: { wait: true, timeout } } })
  channel.on('postgres_changes', { event: 'INSERT', schema: 'public', table: 'todos' }, (payload) => {
    lib.emit({ kind: 'change', payload })
  })
  channel.on('system', {}, (payload) => lib.emit({ kind: 'system', payload }))
  let subscribed = false
  channel.subscribe((status, err) => {
    lib.emit({ kind: 'status', topic: channel.topic, status, error: err ? String(err.message || err) : undefined })
    if (status === 'SUBSCRIBED' && !subscribed) {
      subscribed = true
      lib.emit({ kind: 'subscribed', topic: channel.topic })
    }
  })
  await lib.waitForEOF()
  lib.done()
})
