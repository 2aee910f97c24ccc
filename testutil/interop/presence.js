// Scenario "presence": realtime-js joins --topic with the presence key --presence-key and a
// presence listener ('*'), reports every presence event and the state after each sync, and
// tracks or untracks on command.
//
//   node presence.js --url URL --key KEY --topic room --name js1 --presence-key js1 [--vsn 1.0.0]
//
// Emits:
//   {"kind":"ready", topic, vsn, presence_key} once SUBSCRIBED;
//   {"kind":"presence", event: "join"|"leave", key, current, delta, payload_keys} for each join
//     and leave event: current is currentPresences, delta is newPresences (join) or
//     leftPresences (leave), each an array of metas as realtime-js hands them out;
//   {"kind":"sync", n, state} for each sync event, state being channel.presenceState() (key →
//     metas, phx_ref renamed presence_ref);
//   {"kind":"pushed", action, result} with what track()/untrack() resolved to ('ok' when the
//     server acknowledged).
//
// Commands (stdin, one per line): `track <JSON object>`, `untrack`; the end of stdin finishes.
'use strict'

const lib = require('./lib')

lib.run(async () => {
  const topic = lib.arg('topic', 'interop:presence')
  const presenceKey = String(lib.arg('presence-key', lib.name))
  const opts = {}
  const vsn = lib.arg('vsn')
  if (vsn) opts.vsn = vsn
  const client = lib.newClient(opts)
  lib.watchSocket(client)
  const channel = client.channel(topic, { config: { presence: { key: presenceKey } } })

  let syncs = 0
  channel.on('presence', { event: '*' }, (p) => {
    if (p.event === 'sync') {
      syncs++
      lib.emit({ kind: 'sync', n: syncs, state: channel.presenceState() })
      return
    }
    lib.emit({
      kind: 'presence',
      event: p.event,
      key: p.key,
      current: p.currentPresences,
      delta: p.event === 'join' ? p.newPresences : p.leftPresences,
      payload_keys: Object.keys(p).sort(),
    })
  })
  await lib.subscribe(channel)
  lib.emit({ kind: 'ready', topic: channel.topic, vsn: client.vsn, presence_key: presenceKey })

  for (;;) {
    const cmd = await lib.nextCommand()
    if (cmd === 'eof') break
    const sp = cmd.indexOf(' ')
    const action = sp < 0 ? cmd : cmd.slice(0, sp)
    let result
    switch (action) {
      case 'track':
        result = await channel.track(JSON.parse(cmd.slice(sp + 1)))
        break
      case 'untrack':
        result = await channel.untrack()
        break
      default:
        throw new Error(`unexpected command ${JSON.stringify(cmd)}`)
    }
    lib.emit({ kind: 'pushed', action, result })
  }
  lib.done()
})
