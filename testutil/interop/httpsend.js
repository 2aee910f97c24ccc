// Scenario "httpSend": realtime-js broadcasts through the REST API.
//
//   node httpsend.js --url URL --key KEY --topic room --token JWT
//
// One client (with an accessToken callback returning --token) joins --topic and reports the
// broadcasts it receives. On the command "send" it calls channel.httpSend twice, with a JSON
// payload (event http-json) and an ArrayBuffer (event http-bin); then a second client that never
// connects calls send() on an unjoined channel of the topic, realtime-js's deprecated implicit
// REST fallback (event http-fallback). Each result is emitted as {"kind":"http"}; then the
// script waits for the end of stdin.
'use strict'

const lib = require('./lib')

const BIG_ID = '9007199254740993'

lib.run(async () => {
  const topic = lib.arg('topic', 'interop')
  const token = lib.arg('token', 'interop-token')
  const client = lib.newClient({ accessToken: async () => token })
  lib.watchSocket(client)
  // Fetch the token before subscribing, as supabase-js does. Without this, 2.119.0 builds the
  // phx_join before its connect-time setAuth() resolves, so the join has no access_token, and
  // since the token never changes afterwards it never sends one.
  await client.setAuth()
  const channel = client.channel(topic)
  lib.listen(channel)
  await lib.subscribe(channel)
  lib.emit({
    kind: 'ready',
    topic: channel.topic,
    http_endpoint: client.httpEndpoint,
    broadcast_endpoint: channel.broadcastEndpointURL,
  })
  await lib.waitFor('send')

  const json = await channel.httpSend('http-json', { id: BIG_ID, n: 1 })
  lib.emit({ kind: 'http', method: 'httpSend', event: 'http-json', result: json })
  const bin = await channel.httpSend('http-bin', Uint8Array.from([7, 8, 9]).buffer)
  lib.emit({ kind: 'http', method: 'httpSend', event: 'http-bin', result: bin })

  // The fallback: send() on a channel that cannot push goes to POST /api/broadcast.
  const warnings = []
  const offline = lib.newClient({
    accessToken: async () => token,
    logger: (kind, msg) => {
      if (kind === 'channel') warnings.push(msg)
    },
  })
  await offline.setAuth()
  const unjoined = offline.channel(topic)
  const fallback = await unjoined.send({ type: 'broadcast', event: 'http-fallback', payload: { id: BIG_ID, n: 3 } })
  lib.emit({ kind: 'http', method: 'send', event: 'http-fallback', result: fallback, warnings, connected: offline.isConnected() })

  await lib.waitForEOF()
  lib.done()
})
