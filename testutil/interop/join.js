// Scenario "connect and join": realtime-js connects with its defaults and joins --topic.
//
//   node join.js --url URL --key KEY --topic room [--vsn 2.0.0]
//
// Emits {"kind":"endpoint"} (the socket URL, vsn and REST endpoint realtime-js derived), the
// channel's statuses, and {"kind":"joined"} once SUBSCRIBED; then waits for the end of stdin.
'use strict'

const lib = require('./lib')

lib.run(async () => {
  const topic = lib.arg('topic', 'interop')
  const opts = {}
  const vsn = lib.arg('vsn')
  if (vsn) opts.vsn = vsn
  const client = lib.newClient(opts)
  lib.watchSocket(client)
  lib.emit({ kind: 'endpoint', url: client.endpointURL(), vsn: client.vsn, http_endpoint: client.httpEndpoint })
  const channel = client.channel(topic)
  await lib.subscribe(channel)
  lib.emit({
    kind: 'joined',
    topic: channel.topic,
    join_ref: channel.joinPush.ref,
    state: channel.state,
    connected: client.isConnected(),
    broadcast_endpoint: channel.broadcastEndpointURL,
  })
  await lib.waitForEOF()
  lib.done()
})
