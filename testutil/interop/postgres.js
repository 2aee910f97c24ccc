// Scenario "postgres changes": realtime-js joins --topic with one postgres_changes listener per
// binding of --bindings, and reports every change each listener receives.
//
//   node postgres.js --url URL --key KEY --topic db --bindings JSON
//
// --bindings is a JSON array of {name, event, schema, table, filter?}; each becomes
// channel.on('postgres_changes', {event, schema, table[, filter]}, callback), in that order.
//
// Emits:
//   {"kind":"system", payload, payload_keys} for every system message (channel.on('system', {}));
//   {"kind":"ready", topic, binding_ids, binding_id_types} once SUBSCRIBED and the system message
//     "Subscribed to PostgreSQL" (extension postgres_changes, status ok) have both arrived;
//     binding_ids are the ids realtime-js took from the join reply, by binding;
//   {"kind":"change", binding, payload, payload_keys, types} for each callback: payload is what
//     realtime-js hands the callback ({schema, table, commit_timestamp, eventType, new, old,
//     errors}), types the JavaScript type of each value of new and old.
// A postgres_changes system error fails the script. It waits for the end of stdin.
'use strict'

const lib = require('./lib')

// typesOf returns the JavaScript type of each member of a record.
function typesOf(rec) {
  const out = {}
  for (const [k, v] of Object.entries(rec || {})) {
    out[k] = v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v
  }
  return out
}

lib.run(async () => {
  const topic = lib.arg('topic', 'interop:postgres')
  const bindings = JSON.parse(lib.arg('bindings', '[]'))
  const client = lib.newClient()
  lib.watchSocket(client)
  const channel = client.channel(topic)

  for (const b of bindings) {
    const filter = { event: b.event, schema: b.schema, table: b.table }
    if (b.filter !== undefined) filter.filter = b.filter
    channel.on('postgres_changes', filter, (payload) => {
      lib.emit({
        kind: 'change',
        binding: b.name,
        payload,
        payload_keys: Object.keys(payload).sort(),
        types: { new: typesOf(payload.new), old: typesOf(payload.old) },
      })
    })
  }

  let settle
  const pgReady = new Promise((resolve, reject) => {
    settle = { resolve, reject }
  })
  // System messages reach 'system' listeners whatever their filter.
  channel.on('system', {}, (payload) => {
    lib.emit({ kind: 'system', payload, payload_keys: Object.keys(payload).sort() })
    if (payload.extension !== 'postgres_changes') return
    if (payload.status === 'ok') settle.resolve(payload)
    else settle.reject(new Error(`postgres_changes system error: ${payload.message}`))
  })

  await lib.subscribe(channel)
  await pgReady
  const ids = (channel.bindings.postgres_changes || []).map((b) => b.id)
  lib.emit({ kind: 'ready', topic: channel.topic, binding_ids: ids, binding_id_types: ids.map((id) => typeof id) })
  await lib.waitForEOF()
  lib.done()
})
