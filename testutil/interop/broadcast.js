// Scenarios "broadcast" and "binary": realtime-js joins --topic with broadcast self and ack,
// reports every broadcast it receives, and on the command "send" sends one broadcast (without
// that command it only receives).
//
//   node broadcast.js --url URL --key KEY --topic room --name js1 --event from-js1 --n 1
//                     [--vsn 1.0.0|2.0.0] [--bytes 4,5,6]
//
// The payload is {"id":"9007199254740993","n":N,"from":NAME} (an integer beyond 2^53 travels
// as a string), or, with --bytes, an ArrayBuffer of those bytes.
//
// Emits {"kind":"ready"} once SUBSCRIBED, {"kind":"broadcast"} for each broadcast received
// (binary payloads as payload_type and bytes), and {"kind":"send"} with what send() resolved to
// ('ok' when the server acknowledged); then waits for the end of stdin.
'use strict'

const lib = require('./lib')

const BIG_ID = '9007199254740993' // 2^53 + 1

lib.run(async () => {
  const topic = lib.arg('topic', 'interop')
  const event = lib.arg('event', 'from-' + lib.name)
  const n = Number(lib.arg('n', 1))
  const bytes = lib.arg('bytes')
  const opts = {}
  const vsn = lib.arg('vsn')
  if (vsn) opts.vsn = vsn
  const client = lib.newClient(opts)
  lib.watchSocket(client)
  const channel = client.channel(topic, { config: { broadcast: { self: true, ack: true } } })
  lib.listen(channel)
  await lib.subscribe(channel)
  lib.emit({ kind: 'ready', topic: channel.topic, vsn: client.vsn })
  // A receive-only participant is never told to send: the end of stdin finishes it.
  const cmd = await lib.nextCommand()
  if (cmd === 'eof') return lib.done()
  if (cmd !== 'send') throw new Error(`unexpected command ${JSON.stringify(cmd)}`)
  const payload = bytes
    ? Uint8Array.from(String(bytes).split(',').map(Number)).buffer
    : { id: BIG_ID, n, from: lib.name }
  const result = await channel.send({ type: 'broadcast', event, payload })
  lib.emit({ kind: 'send', event, result })
  await lib.waitForEOF()
  lib.done()
})
