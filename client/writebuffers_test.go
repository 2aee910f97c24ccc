package client

import (
	"testing"

	"github.com/gorilla/websocket"
)

// The client's sockets borrow write buffers from one pool that keeps at most two; a dialer
// with a pool of its own keeps it, and the user's dialer is not modified.
func TestSocketsShareWriteBuffers(t *testing.T) {
	user := &websocket.Dialer{}
	d := withWriteBuffers(user)
	if user.WriteBufferPool != nil {
		t.Fatal("the user's dialer was modified")
	}
	p, ok := d.WriteBufferPool.(*writeBuffers)
	if !ok {
		t.Fatalf("pool %T; want *writeBuffers", d.WriteBufferPool)
	}
	if p.Get() != nil {
		t.Fatal("an empty pool returned a buffer")
	}
	bufs := []*[]byte{new([]byte), new([]byte), new([]byte)}
	for _, b := range bufs {
		p.Put(b)
	}
	if len(p.free) != 2 {
		t.Fatalf("the pool keeps %d buffers; want 2", len(p.free))
	}
	if got := p.Get(); got != any(bufs[1]) {
		t.Fatalf("Get = %p; want the last buffer kept, %p", got, bufs[1])
	}
	own := &writeBuffers{}
	if d := withWriteBuffers(&websocket.Dialer{WriteBufferPool: own}); d.WriteBufferPool != websocket.BufferPool(own) {
		t.Fatal("a dialer's own pool was replaced")
	}
	if d := withWriteBuffers(nil); d.WriteBufferPool == nil || websocket.DefaultDialer.WriteBufferPool != nil {
		t.Fatal("the default dialer got no pool, or was modified")
	}
}
