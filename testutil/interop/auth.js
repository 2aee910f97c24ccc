// Scenario "auth": realtime-js with an accessToken callback against a server that checks JWTs.
//
//   node auth.js --url URL --key JWT --topic room --token JWT [--private]
//
// The client's accessToken callback returns the current token (--token at first). As supabase-js
// does, the script calls setAuth() before subscribing, so that the phx_join carries the token.
// It subscribes to --topic (a private channel with --private) and reports:
//   * every subscribe status, with the error text and the channel state ({"kind":"status"});
//   * {"kind":"joined"} on SUBSCRIBED;
//   * every system message the channel receives ({"kind":"system"}).
// A CHANNEL_ERROR or CLOSED is not a failure of the script: those are what some scenarios expect.
//
// Commands on stdin, one per line:
//   setauth TOKEN   the callback now returns TOKEN, and client.setAuth(TOKEN) is called;
//                   then {"kind":"setauth","n":N} is emitted
//   send EVENT      channel.send a broadcast EVENT {}, then {"kind":"send","event","result"}
//   summary         emit {"kind":"summary"}: channel state, channels, connection
// End of input finishes the script.
'use strict'

const lib = require('./lib')

lib.run(async () => {
  const topic = lib.arg('topic', 'interop:auth')
  let current = lib.arg('token')
  if (typeof current !== 'string') throw new Error('--token is required')
  const isPrivate = lib.arg('private', false) === true

  const client = lib.newClient({ accessToken: async () => current })
  lib.watchSocket(client)
  await client.setAuth()
  const channel = client.channel(topic, { config: { private: isPrivate } })
  channel.on('system', {}, (payload) => lib.emit({ kind: 'system', topic: channel.topic, payload }))

  let statuses = 0
  channel.subscribe((status, err) => {
    statuses++
    lib.emit({
      kind: 'status',
      topic: channel.topic,
      status,
      error: err ? String(err.message || err) : undefined,
      state: channel.state,
      n: statuses,
    })
    if (status === 'SUBSCRIBED') {
      lib.emit({ kind: 'joined', topic: channel.topic, join_ref: channel.joinPush.ref, state: channel.state })
    }
  })

  let setAuths = 0
  for (;;) {
    const cmd = await lib.nextCommand()
    if (cmd === 'eof') break
    const [verb, arg] = cmd.split(/\s+/, 2)
    switch (verb) {
      case 'setauth':
        current = arg
        await client.setAuth(arg)
        setAuths++
        lib.emit({ kind: 'setauth', n: setAuths, stored: client.accessTokenValue === arg })
        break
      case 'send': {
        const result = await channel.send({ type: 'broadcast', event: arg, payload: {} })
        lib.emit({ kind: 'send', event: arg, result })
        break
      }
      case 'summary':
        lib.emit({
          kind: 'summary',
          state: channel.state,
          channels: client.getChannels().map((c) => c.topic),
          connected: client.isConnected(),
        })
        break
      default:
        throw new Error(`unknown command ${JSON.stringify(cmd)}`)
    }
  }
  lib.done()
})
