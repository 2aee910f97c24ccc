package client_test

// Benchmarks of the SDK against baselines measured in the same run (the machines are shared
// and noisy: compare the ratios, not the absolute numbers). The flood server below writes
// pre-encoded frames in ~64 KiB batches straight to the socket so that it is never the
// bottleneck, like the project's perf harness.

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-supabase/realtime/client"
	"github.com/go-supabase/realtime/pgchanges"
	"github.com/go-supabase/realtime/subscribe"
	"github.com/go-supabase/realtime/testutil"
	"github.com/go-supabase/realtime/transport"
	"github.com/gorilla/websocket"
)

const benchTopic = "realtime:room1"

// chatPayload is a ~150-byte user payload, the shape of the perf harness's broadcasts.
func chatPayload(i int) []byte {
	return []byte(fmt.Sprintf(`{"seq":%d,"user":"user-%04d","room":"room1","ts":1766000000%03d,"text":"the quick brown fox jumps over the lazy dog, again and again %04d"}`, i, i%1000, i%1000, i%10000))
}

// floodFrames returns n encoded frames (64 variants, cycled) and whether they are binary.
func floodFrames(kind string, n int) ([][]byte, bool) {
	variants := make([][]byte, 64)
	bin := kind == "binary"
	for i := range variants {
		m := transport.Message{Topic: benchTopic, Event: "broadcast", UserEvent: "msg", Data: chatPayload(i)}
		if bin {
			m.Binary = true
		} else {
			m.Payload, _ = json.Marshal(map[string]any{"event": "msg", "payload": json.RawMessage(chatPayload(i)), "type": "broadcast"})
		}
		f, _, err := transport.Encode(nil, transport.V2, transport.ServerSide, &m)
		if err != nil {
			panic(err)
		}
		variants[i] = f
	}
	out := make([][]byte, n)
	for i := range out {
		out[i] = variants[i%len(variants)]
	}
	return out, bin
}

// wsFrame builds an unmasked server frame.
func wsFrame(binaryFrame bool, p []byte) []byte {
	op := byte(0x81)
	if binaryFrame {
		op = 0x82
	}
	var h []byte
	switch n := len(p); {
	case n < 126:
		h = []byte{op, byte(n)}
	case n < 1<<16:
		h = []byte{op, 126, 0, 0}
		binary.BigEndian.PutUint16(h[2:], uint16(n))
	default:
		h = make([]byte, 10)
		h[0], h[1] = op, 127
		binary.BigEndian.PutUint64(h[2:], uint64(n))
	}
	return append(h, p...)
}

// floodServer answers heartbeats and joins; after the first join on a connection it writes the
// frames of next() and then a broadcast "done".
type floodServer struct {
	*httptest.Server
	next func() ([][]byte, bool)
}

func newFloodServer(tb testing.TB, next func() ([][]byte, bool)) *floodServer {
	fs := &floodServer{next: next}
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	fs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		nc := ws.NetConn()
		var wmu sync.Mutex
		write := func(b []byte) {
			wmu.Lock()
			defer wmu.Unlock()
			_, _ = nc.Write(b)
		}
		var wg sync.WaitGroup
		defer wg.Wait()
		flooded := false
		for {
			mt, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			var m transport.Message
			if transport.Decode(transport.V2, transport.ServerSide, mt == websocket.BinaryMessage, data, &m) != nil {
				continue
			}
			switch m.Event {
			case "heartbeat", "phx_join", "phx_leave":
				reply := transport.Message{JoinRef: m.JoinRef, Ref: m.Ref, Topic: m.Topic, Event: "phx_reply", Status: "ok", Data: echoWithIDs(m.Payload)}
				f, _, _ := transport.Encode(nil, transport.V2, transport.ServerSide, &reply)
				write(wsFrame(false, f))
				if m.Event == "phx_join" && !flooded {
					flooded = true
					frames, bin := fs.next()
					wg.Go(func() {
						var batch []byte
						for _, f := range frames {
							batch = append(batch, wsFrame(bin, f)...)
							if len(batch) > 64<<10 {
								write(batch)
								batch = batch[:0]
							}
						}
						done := transport.Message{Topic: benchTopic, Event: "broadcast", UserEvent: "done", Data: []byte("{}")}
						f, _, _ := transport.Encode(nil, transport.V2, transport.ServerSide, &done)
						write(append(batch, wsFrame(false, f)...))
					})
				}
			}
		}
	}))
	tb.Cleanup(fs.Close)
	return fs
}

// echoWithIDs builds a join reply's response: the requested bindings with ids 1, 2, …
func echoWithIDs(payload []byte) []byte {
	var p struct {
		Config struct {
			PostgresChanges []map[string]any `json:"postgres_changes"`
		} `json:"config"`
	}
	_ = json.Unmarshal(payload, &p)
	items := p.Config.PostgresChanges
	for i := range items {
		items[i]["id"] = i + 1
	}
	if items == nil {
		items = []map[string]any{}
	}
	b, _ := json.Marshal(map[string]any{"postgres_changes": items})
	return b
}

func (fs *floodServer) url() string {
	return "ws" + strings.TrimPrefix(fs.URL, "http") + "/realtime/v1"
}

// scanBaseline is the envelope-scan baseline: gorilla ReadMessage, a minimal hand-written scan
// of the V2 array (no validation, no copies), the broadcast's event and raw payload; a kind 4
// header parse for binary frames. It counts messages until "done".
func scanBaseline(b *testing.B, url string) {
	ws, _, err := websocket.DefaultDialer.Dial(url+"/websocket?apikey=k&vsn=2.0.0", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ws.Close()
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`["1","1","`+benchTopic+`","phx_join",{"config":{}}]`))
	n := 0
	var sink int
	for {
		mt, data, err := ws.ReadMessage()
		if err != nil {
			b.Fatal(err)
		}
		var event, payload []byte
		if mt == websocket.BinaryMessage {
			if len(data) < 5 || data[0] != 4 {
				continue
			}
			tl, el, ml := int(data[1]), int(data[2]), int(data[3])
			event = data[5+tl : 5+tl+el]
			payload = data[5+tl+el+ml:]
		} else {
			el := scanElements(data)
			if el[3] == nil || string(el[3]) != `"broadcast"` {
				continue
			}
			event, payload = scanBroadcast(el[4])
		}
		sink += len(payload)
		if string(event) == "done" {
			break
		}
		n++
	}
	if n != b.N {
		b.Fatalf("baseline got %d messages; want %d (%d)", n, b.N, sink)
	}
}

// scanElements splits [a,b,c,d,e] without validating.
func scanElements(b []byte) (el [5][]byte) {
	i, k := bytes.IndexByte(b, '[')+1, 0
	for k < 5 && i > 0 && i < len(b) {
		for i < len(b) && (b[i] == ' ' || b[i] == ',') {
			i++
		}
		start := i
		i = skipRaw(b, i)
		el[k] = b[start:i]
		k++
	}
	return el
}

// skipRaw returns the end of the value at b[i] by counting brackets and skipping strings.
func skipRaw(b []byte, i int) int {
	depth := 0
	for ; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
			if depth == 0 {
				return i + 1
			}
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth <= 0 {
				return i + 1
			}
		case ',':
			if depth == 0 {
				return i
			}
		}
	}
	return i
}

// scanBroadcast finds "event" and "payload" at the top of a broadcast payload object.
func scanBroadcast(obj []byte) (event, payload []byte) {
	for i := 1; i < len(obj); {
		for i < len(obj) && obj[i] != '"' {
			i++
		}
		kEnd := skipRaw(obj, i)
		key := obj[i:kEnd]
		i = kEnd + 1
		vEnd := skipRaw(obj, i)
		switch string(key) {
		case `"event"`:
			event = obj[i+1 : vEnd-1]
		case `"payload"`:
			payload = obj[i:vEnd]
		}
		i = vEnd + 1
		if event != nil && payload != nil {
			return
		}
	}
	return
}

// sdkConsumer subscribes with the SDK and counts broadcasts off one subscription until "done".
func sdkConsumer(b *testing.B, url string) { sdkConsumerN(b, url, b.N) }

// sdkConsumerN is sdkConsumer for a flood of n broadcasts.
func sdkConsumerN(b *testing.B, url string, want int) {
	c, err := client.New(url, "k", client.WithHeartbeat(time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ch, _ := c.Channel(benchTopic)
	// The router outpaces this reader: let the whole flood queue up rather than evict.
	sub := ch.OnBroadcast(context.Background(), "*", subscribe.WithPendingLimits(want+1, 1<<40))
	if err := ch.Subscribe(context.Background()); err != nil {
		b.Fatal(err)
	}
	n := 0
	var sink int
	for m := range sub.C() {
		if m.Event == "done" {
			break
		}
		sink += len(m.Payload) + len(m.Binary)
		n++
	}
	if n != want {
		b.Fatalf("SDK got %d messages; want %d (err %v, %d)", n, want, sub.Err(), sink)
	}
}

// BenchmarkEndToEnd measures a broadcast from the socket to one subscriber's channel, per
// message, for V2 text and binary kind 4, against the envelope-scan baseline.
func BenchmarkEndToEnd(b *testing.B) {
	for _, kind := range []string{"text", "binary"} {
		for _, who := range []string{"scan-baseline", "sdk"} {
			b.Run(kind+"/"+who, func(b *testing.B) {
				var frames [][]byte
				var bin bool
				fs := newFloodServer(b, func() ([][]byte, bool) { return frames, bin })
				frames, bin = floodFrames(kind, b.N)
				runtime.GC()
				b.ReportAllocs()
				b.ResetTimer()
				if who == "sdk" {
					sdkConsumer(b, fs.url())
				} else {
					scanBaseline(b, fs.url())
				}
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			})
		}
	}
}

// BenchmarkFanout delivers each broadcast to N subscriptions of one channel (N = 100, 1,000,
// 10,000), each drained by its own goroutine, against baselines that read and scan each frame
// once and do a plain loop of blocking sends to N buffered Go channels, of a []byte and of the
// client.Broadcast value the SDK delivers; ns/op is per delivery, so a linear cost shows as a
// flat ns/op across N.
func BenchmarkFanout(b *testing.B) {
	for _, listeners := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("%d/chan-baseline", listeners), func(b *testing.B) {
			chanFanout(b, listeners, func(payload []byte) []byte { return payload })
		})
		b.Run(fmt.Sprintf("%d/chan-baseline-value", listeners), func(b *testing.B) {
			chanFanout(b, listeners, func(payload []byte) client.Broadcast { return client.Broadcast{Event: "msg", Payload: payload} })
		})
		b.Run(fmt.Sprintf("%d/sdk", listeners), func(b *testing.B) {
			frames := b.N/listeners + 1
			fs := newFloodServer(b, func() ([][]byte, bool) { f, _ := floodFrames("text", frames); return f, false })
			c, err := client.New(fs.url(), "k", client.WithHeartbeat(time.Hour))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			ch, _ := c.Channel(benchTopic)
			var wg sync.WaitGroup
			for range listeners {
				sub := ch.OnBroadcast(context.Background(), "*", subscribe.WithPendingLimits(frames+2, 1<<40))
				wg.Go(func() {
					for m := range sub.C() {
						if m.Event == "done" {
							return
						}
					}
				})
			}
			b.ReportAllocs()
			b.ResetTimer()
			if err := ch.Subscribe(context.Background()); err != nil {
				b.Fatal(err)
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(frames*listeners)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}

// chanFanout is the fan-out baseline: one read and scan per frame, then a plain loop of
// blocking sends of elem(payload) to listeners buffered channels, each drained by a goroutine.
// With a []byte element it is the perf harness's fanout-chan (one small value per delivery);
// with a client.Broadcast element it sends what the SDK's subscriptions carry.
func chanFanout[T any](b *testing.B, listeners int, elem func([]byte) T) {
	frames := b.N/listeners + 1
	fs := newFloodServer(b, func() ([][]byte, bool) { f, _ := floodFrames("text", frames); return f, false })
	chans := make([]chan T, listeners)
	var wg sync.WaitGroup
	for i := range chans {
		chans[i] = make(chan T, subscribe.DefaultBuffer)
		wg.Go(func() {
			for range chans[i] {
			}
		})
	}
	b.ReportAllocs()
	b.ResetTimer()
	ws, _, err := websocket.DefaultDialer.Dial(fs.url()+"/websocket?apikey=k&vsn=2.0.0", nil)
	if err != nil {
		b.Fatal(err)
	}
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`["1","1","`+benchTopic+`","phx_join",{"config":{}}]`))
	for n := 0; n < frames; {
		_, data, err := ws.ReadMessage()
		if err != nil {
			b.Fatal(err)
		}
		el := scanElements(data)
		if string(el[3]) != `"broadcast"` {
			continue
		}
		_, payload := scanBroadcast(el[4])
		v := elem(payload)
		for _, c := range chans {
			c <- v
		}
		n++
	}
	b.StopTimer()
	ws.Close()
	for _, c := range chans {
		close(c)
	}
	wg.Wait()
	b.ReportMetric(float64(frames*listeners)/b.Elapsed().Seconds(), "deliveries/s")
}

// BenchmarkChannels1000 makes 1,000 channels without options on a new client (no I/O): the
// part of a join storm that comes before the first frame.
func BenchmarkChannels1000(b *testing.B) {
	topics := make([]string, 1000)
	for i := range topics {
		topics[i] = fmt.Sprintf("room-%d", i)
	}
	b.ReportAllocs()
	for b.Loop() {
		c, err := client.New("ws://127.0.0.1:1/realtime/v1", "anon-key")
		if err != nil {
			b.Fatal(err)
		}
		for _, topic := range topics {
			if _, err := c.Channel(topic); err != nil {
				b.Fatal(err)
			}
		}
		c.Close()
	}
}

// BenchmarkJoin1000 joins 1,000 channels with the fake server, against a raw protocol
// baseline (gorilla + encoding/json on one connection, one small struct per channel); it
// reports the time to all joined and the heap still held per channel. "sdk" puts every channel
// on one socket; "sdk-10-sockets" uses the pool with the server's default of 100 channels per
// socket.
func BenchmarkJoin1000(b *testing.B) {
	const channels = 1000
	srv := testutil.NewUnstartedServer(testutil.WithRecordLimit(-1), // its memory is not the SDK's
		testutil.WithMaxChannelsPerClient(channels), testutil.WithMaxJoinsPerSecond(1<<30))
	srv.Start()
	defer srv.Close()
	b.Run("raw-baseline", func(b *testing.B) {
		var heap float64
		for range b.N {
			before := heapInUse()
			held, done := rawJoins(b, srv.URL(), channels)
			b.StopTimer()
			// Measured with the connection open, like the SDK's: both figures include the
			// fake server's own state for the channels, so their difference is the client's.
			heap += float64(heapInUse()-before) / channels
			runtime.KeepAlive(held)
			done()
			b.StartTimer()
		}
		b.ReportMetric(heap/float64(b.N), "B/channel")
	})
	for _, bb := range []struct {
		name      string
		perSocket int
	}{{"sdk", channels}, {"sdk-10-sockets", client.DefaultMaxChannelsPerSocket}} {
		b.Run(bb.name, func(b *testing.B) {
			var heap float64
			for range b.N {
				before := heapInUse()
				c, err := client.New(srv.URL(), "k", client.WithHeartbeat(time.Hour), client.WithMaxChannelsPerSocket(bb.perSocket))
				if err != nil {
					b.Fatal(err)
				}
				if err := c.Connect(context.Background()); err != nil {
					b.Fatal(err)
				}
				var wg sync.WaitGroup
				for i := range channels {
					wg.Go(func() {
						ch, _ := c.Channel(fmt.Sprintf("room:%d", i))
						if err := ch.Subscribe(context.Background()); err != nil {
							b.Error(err)
						}
					})
				}
				wg.Wait()
				b.StopTimer()
				heap += float64(heapInUse()-before) / channels
				c.Close()
				b.StartTimer()
			}
			b.ReportMetric(heap/float64(b.N), "B/channel")
			// The two structs every channel holds for its life, allocated together (rounded up
			// to Go's size classes: …, 208, 224, 240, 256, …).
			b.ReportMetric(float64(client.ChanStateSize()), "B/chanState")
			b.ReportMetric(float64(client.ChannelSize()), "B/Channel")
		})
	}
}

func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// rawJoins is the baseline: one socket, n joins written back to back, replies counted. It
// returns its state and a function that closes the socket.
func rawJoins(b *testing.B, url string, n int) (any, func()) {
	ws, _, err := websocket.DefaultDialer.Dial(url+"/websocket?apikey=k&vsn=2.0.0", nil)
	if err != nil {
		b.Fatal(err)
	}
	type chanState struct {
		topic, joinRef string
		joined         bool
	}
	states := make(map[string]*chanState, n)
	for i := range n {
		ref := fmt.Sprint(i + 1)
		topic := fmt.Sprintf("realtime:room:%d", i)
		states[ref] = &chanState{topic: topic, joinRef: ref}
		msg := fmt.Sprintf(`[%q,%q,%q,"phx_join",{"config":{"broadcast":{"ack":false,"self":false},"presence":{"key":"","enabled":false},"postgres_changes":[],"private":false}}]`, ref, ref, topic)
		if err := ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			b.Fatal(err)
		}
	}
	for joined := 0; joined < n; {
		_, data, err := ws.ReadMessage()
		if err != nil {
			b.Fatal(err)
		}
		var arr []json.RawMessage
		if json.Unmarshal(data, &arr) != nil || len(arr) < 5 {
			continue
		}
		var ref string
		_ = json.Unmarshal(arr[1], &ref)
		if st := states[ref]; st != nil && !st.joined {
			st.joined = true
			joined++
		}
	}
	return states, func() { ws.Close() }
}

// changeData is a ~600-byte INSERT data object with 8 mixed columns (the perf harness's shape).
func changeData(i int) []byte {
	return []byte(fmt.Sprintf(`{"columns":[{"name": "id", "type": "int8"}, {"name": "user_id", "type": "uuid"}, {"name": "title", "type": "text"}, {"name": "done", "type": "bool"}, {"name": "score", "type": "numeric"}, {"name": "tags", "type": "_text"}, {"name": "meta", "type": "jsonb"}, {"name": "created_at", "type": "timestamptz"}],"commit_timestamp":"2026-08-21T10:15:30.123Z","errors":null,"record":{"id": %d, "done": false, "meta": {"p": 1, "source": "bench"}, "tags": ["alpha", "beta", "gamma"], "score": 1234.50, "title": "buy milk and bread and eggs %d", "user_id": "6f1c0b1e-2a3b-4c5d-8e9f-0a1b2c3d4e5f", "created_at": "2026-08-21T10:15:30.118532+00:00"},"schema":"public","table":"todos","type":"INSERT"}`, 9007199254740993+i, i))
}

func changeFrames(n, ids int) [][]byte {
	idList := make([]string, ids)
	for i := range idList {
		idList[i] = fmt.Sprint(ids - i) // reverse binding order, as the server sends them
	}
	variants := make([][]byte, 64)
	for i := range variants {
		m := transport.Message{Topic: benchTopic, Event: "postgres_changes",
			Payload: []byte(`{"data":` + string(changeData(i)) + `,"ids":[` + strings.Join(idList, ",") + `]}`)}
		variants[i], _, _ = transport.Encode(nil, transport.V2, transport.ServerSide, &m)
	}
	out := make([][]byte, n)
	for i := range out {
		out[i] = variants[i%len(variants)]
	}
	return out
}

// todo is the typed record of the change benchmarks.
type todo struct {
	ID        int64             `json:"id"`
	UserID    string            `json:"user_id"`
	Title     string            `json:"title"`
	Done      bool              `json:"done"`
	Score     pgchanges.Numeric `json:"score"`
	Tags      []string          `json:"tags"`
	Meta      json.RawMessage   `json:"meta"`
	CreatedAt time.Time         `json:"created_at"`
}

// todoData is what the scan-plus-struct baseline decodes the data object into.
type todoData struct {
	Columns []struct {
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"columns"`
	CommitTimestamp string   `json:"commit_timestamp"`
	Errors          []string `json:"errors"`
	Record          struct {
		ID        int64           `json:"id"`
		UserID    string          `json:"user_id"`
		Title     string          `json:"title"`
		Done      bool            `json:"done"`
		Score     json.Number     `json:"score"`
		Tags      []string        `json:"tags"`
		Meta      json.RawMessage `json:"meta"`
		CreatedAt string          `json:"created_at"`
	} `json:"record"`
	Schema string `json:"schema"`
	Table  string `json:"table"`
	Type   string `json:"type"`
}

// pgBaseline reads changes with gorilla and the minimal scan; with typed it also decodes the
// data object into a struct with encoding/json.
func pgBaseline(b *testing.B, url string, typed bool) {
	ws, _, err := websocket.DefaultDialer.Dial(url+"/websocket?apikey=k&vsn=2.0.0", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ws.Close()
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`["1","1","`+benchTopic+`","phx_join",{"config":{"postgres_changes":[{"event":"*","schema":"public","table":"todos"}]}}]`))
	n := 0
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			b.Fatal(err)
		}
		el := scanElements(data)
		if string(el[3]) == `"broadcast"` {
			break
		}
		if string(el[3]) != `"postgres_changes"` {
			continue
		}
		var dataObj []byte
		obj := el[4]
		for i := 1; i < len(obj); {
			for i < len(obj) && obj[i] != '"' {
				i++
			}
			kEnd := skipRaw(obj, i)
			key := obj[i:kEnd]
			i = kEnd + 1
			vEnd := skipRaw(obj, i)
			if string(key) == `"data"` {
				dataObj = obj[i:vEnd]
			}
			i = vEnd + 1
		}
		if typed {
			var v todoData
			if err := json.Unmarshal(dataObj, &v); err != nil {
				b.Fatal(err)
			}
		}
		n++
	}
	if n != b.N {
		b.Fatalf("baseline got %d changes; want %d", n, b.N)
	}
}

// pgSDK subscribes with bindings bindings (all matching) and reads one subscription; with
// typed it decodes each record into a struct with pgchanges.Decode.
func pgSDK(b *testing.B, url string, bindings int, typed bool) {
	c, err := client.New(url, "k", client.WithHeartbeat(time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ch, _ := c.Channel(benchTopic)
	done := ch.OnBroadcast(context.Background(), "done")
	var subs []*subscribe.Subscription[client.PostgresEvent]
	for i := range bindings {
		bd := pgchanges.On(pgchanges.All, "public", "todos")
		if i > 0 {
			bd = bd.FilterRaw(fmt.Sprintf("id=gt.%d", i))
		}
		subs = append(subs, ch.OnPostgresChanges(context.Background(), bd, subscribe.WithPendingLimits(b.N+1, 1<<40)))
	}
	if err := ch.Subscribe(context.Background()); err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, sub := range subs[1:] {
		wg.Go(func() {
			for range sub.C() {
			}
		})
	}
	n := 0
	handle := func(ev client.PostgresEvent) {
		if typed {
			if _, err := pgchanges.Decode[todo](ev.Change); err != nil {
				b.Fatal(err)
			}
		}
		n++
	}
	for n < b.N {
		select {
		case ev := <-subs[0].C():
			handle(ev)
		case <-done.C():
			// Routing is in wire order: every change is queued already.
			for n < b.N {
				handle(<-subs[0].C())
			}
			c.Close()
			wg.Wait()
			return
		}
	}
	<-done.C()
	c.Close()
	wg.Wait()
}

// BenchmarkPostgresEndToEnd measures a change from the socket to a subscriber, with the record
// left raw and decoded into a typed struct, against the scan and scan-plus-struct baselines,
// and routing one change to 100 bindings on one channel.
func BenchmarkPostgresEndToEnd(b *testing.B) {
	for _, tc := range []struct {
		name     string
		bindings int
		typed    bool
		baseline bool
	}{
		{"raw/scan-baseline", 1, false, true},
		{"raw/sdk", 1, false, false},
		{"typed/scan-struct-baseline", 1, true, true},
		{"typed/sdk", 1, true, false},
		{"100-bindings/sdk", 100, false, false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var frames [][]byte
			fs := newFloodServer(b, func() ([][]byte, bool) { return frames, false })
			frames = changeFrames(b.N, tc.bindings)
			runtime.GC()
			b.ReportAllocs()
			b.ResetTimer()
			if tc.baseline {
				pgBaseline(b, fs.url(), tc.typed)
			} else {
				pgSDK(b, fs.url(), tc.bindings, tc.typed)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "changes/s")
		})
	}
}

// BenchmarkPresenceJoinStorm fans the presence of 1,000 members joining at once (one diff
// each, as the server sends them) out to a channel's presence subscription; ns/op is per
// member.
func BenchmarkPresenceJoinStorm(b *testing.B) {
	const members = 1000
	var frames [][]byte
	fs := newFloodServer(b, func() ([][]byte, bool) { return frames, false })
	state := transport.Message{JoinRef: "", Topic: benchTopic, Event: "presence_state", Payload: []byte("{}")}
	first, _, _ := transport.Encode(nil, transport.V2, transport.ServerSide, &state)
	frames = append(frames, first)
	for i := range members * b.N {
		diff := transport.Message{Topic: benchTopic, Event: "presence_diff", Payload: []byte(fmt.Sprintf(
			`{"joins":{"user-%d":{"metas":[{"phx_ref":"ref%09d","online_at":"2026-08-21T10:00:00Z","user":"user-%d"}]}},"leaves":{}}`, i, i, i))}
		f, _, _ := transport.Encode(nil, transport.V2, transport.ServerSide, &diff)
		frames = append(frames, f)
	}
	c, err := client.New(fs.url(), "k", client.WithHeartbeat(time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ch, _ := c.Channel(benchTopic)
	_ = ch.OnPresence(context.Background()) // a presence subscription turns presence on
	done := ch.OnBroadcast(context.Background(), "done")
	b.ReportAllocs()
	b.ResetTimer()
	if err := ch.Subscribe(context.Background()); err != nil {
		b.Fatal(err)
	}
	<-done.C() // routing is in wire order: every diff has been applied
	b.StopTimer()
	if n := ch.PresenceState().Len(); n != members*b.N {
		b.Fatalf("state has %d members; want %d", n, members*b.N)
	}
	b.ReportMetric(float64(members*b.N)/b.Elapsed().Seconds(), "joins/s")
}

// sdkEventsConsumer is sdkConsumer reading n broadcasts off the channel's ordered stream
// (Channel.OnEvents) instead of OnBroadcast("*"); it skips the state changes.
func sdkEventsConsumer(b *testing.B, url string, n int) {
	c, err := client.New(url, "k", client.WithHeartbeat(time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ch, _ := c.Channel(benchTopic)
	sub := ch.OnEvents(context.Background(), subscribe.WithPendingLimits(n+16, 1<<40))
	if err := ch.Subscribe(context.Background()); err != nil {
		b.Fatal(err)
	}
	got := 0
	var sink int
	for ev := range sub.C() {
		m, ok := ev.(client.Broadcast)
		if !ok {
			continue
		}
		if m.Event == "done" {
			break
		}
		sink += len(m.Payload) + len(m.Binary)
		got++
	}
	if got != n {
		b.Fatalf("SDK got %d messages; want %d (err %v, %d)", got, n, sub.Err(), sink)
	}
}

// BenchmarkOrderedStream measures text broadcasts from the socket to one ordered subscription
// (Channel.OnEvents) against one OnBroadcast("*") subscription, in the same run: the ordered
// stream boxes each event once as an Event. The ratio sub-benchmark alternates the two, 50,000
// broadcasts each per op, and reports the ordered stream's rate over OnBroadcast's.
func BenchmarkOrderedStream(b *testing.B) {
	for _, who := range []string{"on-broadcast", "on-events"} {
		b.Run("text/"+who, func(b *testing.B) {
			var frames [][]byte
			fs := newFloodServer(b, func() ([][]byte, bool) { return frames, false })
			frames, _ = floodFrames("text", b.N)
			runtime.GC()
			b.ReportAllocs()
			b.ResetTimer()
			if who == "on-events" {
				sdkEventsConsumer(b, fs.url(), b.N)
			} else {
				sdkConsumer(b, fs.url())
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
	b.Run("text/ratio", func(b *testing.B) {
		const n = 50_000
		frames, _ := floodFrames("text", n)
		fs := newFloodServer(b, func() ([][]byte, bool) { return frames, false })
		var tBroadcast, tEvents time.Duration
		for i := range b.N {
			for k := range 2 {
				runtime.GC()
				start := time.Now()
				if (i+k)%2 == 0 {
					sdkEventsConsumer(b, fs.url(), n)
					tEvents += time.Since(start)
				} else {
					sdkConsumerN(b, fs.url(), n)
					tBroadcast += time.Since(start)
				}
			}
		}
		b.ReportMetric(float64(tBroadcast)/float64(tEvents), "events/broadcast-rate")
	})
}

// chatMsg is the typed payload of the broadcast decode benchmark.
type chatMsg struct {
	Seq  int    `json:"seq"`
	User string `json:"user"`
	Room string `json:"room"`
	TS   int64  `json:"ts"`
	Text string `json:"text"`
}

// BenchmarkDecodeBroadcast decodes a ~150-byte broadcast payload into a struct with
// DecodeBroadcast, against json.Unmarshal (the scan-plus-struct baseline's decode) and against
// a json.Decoder with UseNumber built per call.
func BenchmarkDecodeBroadcast(b *testing.B) {
	m := client.Broadcast{Event: "msg", Payload: chatPayload(7)}
	b.Run("unmarshal-baseline", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var v chatMsg
			if err := json.Unmarshal(m.Payload, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decoder-per-call", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var v chatMsg
			d := json.NewDecoder(bytes.NewReader(m.Payload))
			d.UseNumber()
			if err := d.Decode(&v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sdk", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := client.DecodeBroadcast[chatMsg](m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
