// Shared helpers of the realtime-js interop scripts, driven by interop_test.go.
//
// Every script:
//   * takes the Realtime endpoint (ws://127.0.0.1:PORT/realtime/v1) from --url or REALTIME_URL
//     and the API key from --key or REALTIME_KEY;
//   * writes one JSON object per line on stdout, each with a "kind" field, describing what it
//     observed; the last line of a successful run is {"kind":"done"};
//   * reads commands from stdin, one word per line ("send", …); end of input means "finish";
//   * exits 0 on success and non-zero on failure (1 for an error, 2 for its own hard timeout,
//     --timeout-ms, default 20000), so it never hangs.
//
// Node 20 has no global WebSocket, so the `ws` package is passed to RealtimeClient as its
// transport.
'use strict'

const readline = require('node:readline')
const { RealtimeClient } = require('@supabase/realtime-js')
const WebSocket = require('ws')

function arg(name, def) {
  const i = process.argv.indexOf('--' + name)
  if (i < 0) return def
  const v = process.argv[i + 1]
  return v === undefined || v.startsWith('--') ? true : v
}

const url = arg('url', process.env.REALTIME_URL)
const key = arg('key', process.env.REALTIME_KEY)
const name = arg('name', 'js')
const timeoutMs = Number(arg('timeout-ms', 20000))
const debug = arg('debug', false) === true

let exiting = false
const cleanups = []

// emit writes one JSON line on stdout.
function emit(obj) {
  if (exiting) return // nothing after the last line (done or error)
  process.stdout.write(JSON.stringify(Object.assign({ kind: 'info', name }, obj)) + '\n')
}

// exit ends the process after the cleanups (bounded to 3 s), once stdout is flushed.
function exit(code) {
  if (exiting) return
  exiting = true
  const cap = new Promise((resolve) => setTimeout(resolve, 3000).unref())
  Promise.race([Promise.allSettled(cleanups.map((f) => f())), cap]).then(() => {
    process.stdout.write('', () => process.exit(code))
  })
}

function fail(err) {
  emit({ kind: 'error', error: String((err && err.message) || err), stack: err && err.stack })
  exit(1)
}

function done(extra) {
  emit(Object.assign({ kind: 'done' }, extra))
  exit(0)
}

const hardTimer = setTimeout(() => {
  emit({ kind: 'error', error: `hard timeout after ${timeoutMs} ms` })
  exit(2)
}, timeoutMs)
cleanups.push(async () => clearTimeout(hardTimer))

process.on('uncaughtException', fail)
process.on('unhandledRejection', fail)

emit({ kind: 'start', script: require('node:path').basename(process.argv[1] || ''), node: process.version, pid: process.pid })

if (!url) fail(new Error('--url (or REALTIME_URL) is required'))
if (!key) fail(new Error('--key (or REALTIME_KEY) is required'))

// Commands from stdin. nextCommand() resolves with the next line, or 'eof' at end of input.
const commandQueue = []
const commandWaiters = []
let stdinClosed = false
const rl = readline.createInterface({ input: process.stdin })
rl.on('line', (line) => {
  const cmd = line.trim()
  if (!cmd) return
  const w = commandWaiters.shift()
  if (w) w(cmd)
  else commandQueue.push(cmd)
})
rl.on('close', () => {
  stdinClosed = true
  while (commandWaiters.length) commandWaiters.shift()('eof')
})

function nextCommand() {
  if (commandQueue.length) return Promise.resolve(commandQueue.shift())
  if (stdinClosed) return Promise.resolve('eof')
  return new Promise((resolve) => commandWaiters.push(resolve))
}

// waitFor resolves on command cmd; any other command, or end of input, is an error.
async function waitFor(cmd) {
  const got = await nextCommand()
  if (got !== cmd) throw new Error(`waiting for command ${JSON.stringify(cmd)}, got ${JSON.stringify(got)}`)
}

// waitForEOF resolves when the test closes stdin, the signal to finish.
async function waitForEOF() {
  for (;;) {
    const got = await nextCommand()
    if (got === 'eof') return
    emit({ kind: 'error', error: `unexpected command ${JSON.stringify(got)}` })
  }
}

// TracedWebSocket is the `ws` WebSocket, reporting its dial, upgrade and errors
// ({"kind":"ws"}) so that a transcript shows how far a connection got. It changes nothing else.
class TracedWebSocket extends WebSocket {
  constructor(address, protocols) {
    super(address, protocols)
    emit({ kind: 'ws', event: 'dial', url: String(address) })
    this.on('upgrade', (res) => emit({ kind: 'ws', event: 'upgrade', http_status: res.statusCode }))
    this.on('error', (err) => emit({ kind: 'ws', event: 'error', error: String((err && err.message) || err) }))
  }
}

// newClient returns a RealtimeClient of the endpoint, disconnected at exit. RealtimeClient
// appends /websocket and the query (apikey, then vsn) itself.
function newClient(options = {}) {
  const opts = Object.assign(
    {
      params: { apikey: key },
      transport: TracedWebSocket,
    },
    options,
  )
  if (debug && !opts.logger) {
    opts.logger = (kind, msg, data) => process.stderr.write(`${name} ${kind}: ${msg} ${data === undefined ? '' : safeJSON(data)}\n`)
  }
  const client = new RealtimeClient(url.replace(/\/websocket\/?$/, ''), opts)
  cleanups.push(() => client.disconnect())
  return client
}

function safeJSON(v) {
  try {
    return JSON.stringify(v)
  } catch {
    return String(v)
  }
}

// subscribe subscribes channel, emits every status it reports ({"kind":"status"}) and hands it
// to onStatus, and resolves on the first SUBSCRIBED; it rejects on CHANNEL_ERROR, TIMED_OUT or
// CLOSED before that.
function subscribe(channel, onStatus) {
  return new Promise((resolve, reject) => {
    let subscribed = false
    channel.subscribe((status, err) => {
      emit({ kind: 'status', topic: channel.topic, status, error: err ? String(err.message || err) : undefined })
      if (onStatus) onStatus(status, err)
      if (status === 'SUBSCRIBED' && !subscribed) {
        subscribed = true
        resolve()
      } else if (!subscribed) {
        reject(new Error(`subscribe ${channel.topic}: ${status} ${err ? err.message || err : ''}`))
      }
    })
  })
}

// describePayload reports the shape of a broadcast's payload: JSON values as they are, and
// binary ones as their constructor name plus their bytes.
function describePayload(p) {
  if (p instanceof ArrayBuffer) return { payload_type: 'ArrayBuffer', bytes: Array.from(new Uint8Array(p)) }
  if (ArrayBuffer.isView(p)) {
    return {
      payload_type: p.constructor.name,
      bytes: Array.from(new Uint8Array(p.buffer, p.byteOffset, p.byteLength)),
    }
  }
  return { payload_type: p === null ? 'null' : Array.isArray(p) ? 'array' : typeof p, payload: p }
}

// listen emits every broadcast the channel receives ({"kind":"broadcast"}) and hands it to
// onMessage.
function listen(channel, onMessage) {
  channel.on('broadcast', { event: '*' }, (m) => {
    const rest = Object.assign({}, m)
    delete rest.payload
    emit(Object.assign({ kind: 'broadcast', topic: channel.topic, event: m.event, message_keys: Object.keys(m).sort(), envelope: rest }, describePayload(m.payload)))
    if (onMessage) onMessage(m)
  })
}

// watchSocket emits the socket's opens and closes ({"kind":"socket"}) and counts them. It uses
// RealtimeClient's socketAdapter, internal but reachable, since the public API has no hook.
function watchSocket(client) {
  const counts = { opens: 0, closes: 0 }
  client.socketAdapter.onOpen(() => {
    counts.opens++
    emit({ kind: 'socket', event: 'open', url: client.endpointURL() })
  })
  client.socketAdapter.onClose((ev) => {
    counts.closes++
    emit({ kind: 'socket', event: 'close', code: ev && ev.code, reason: ev && ev.reason, was_clean: ev && ev.wasClean })
  })
  return counts
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

// run runs main and reports its failure.
function run(main) {
  Promise.resolve()
    .then(main)
    .catch(fail)
}

module.exports = {
  RealtimeClient,
  WebSocket,
  arg,
  url,
  key,
  name,
  emit,
  fail,
  done,
  nextCommand,
  waitFor,
  waitForEOF,
  newClient,
  subscribe,
  listen,
  watchSocket,
  describePayload,
  sleep,
  run,
}
