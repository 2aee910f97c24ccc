package transport

import (
	"sync/atomic"
	"time"
)

// Stats is a snapshot of a [Conn]'s counters, from New to the call of [Conn.Stats]. Every
// field is read atomically on its own, without stopping the Conn: the fields of one snapshot
// may be a few frames apart from each other.
type Stats struct {
	// FramesIn and FramesOut count the WebSocket frames read and written (handed to the
	// socket), heartbeats and their replies included. BytesIn and BytesOut count their bytes (the frames' data, without the
	// WebSocket framing).
	FramesIn, FramesOut uint64
	// BytesIn and BytesOut: see FramesIn.
	BytesIn, BytesOut uint64
	// Opens counts the times the socket opened; Reconnects the times it opened again after
	// the first (Opens - 1, or 0). FailedDials counts the connection attempts that failed,
	// refused upgrades included.
	Opens, Reconnects, FailedDials uint64
	// Open reports whether the socket is open now.
	Open bool
	// Dropped counts the frames the send buffer dropped because it was full (see
	// [Conn.Dropped]).
	Dropped uint64
	// HeartbeatRTT is the round-trip time of the last answered heartbeat, and
	// HeartbeatRTTSmoothed their moving average (each new sample weighs 1/8, as TCP smooths
	// its round-trip time); both are 0 before the first answer.
	HeartbeatRTT, HeartbeatRTTSmoothed time.Duration
}

// Add returns the sum of s and o, field by field, for a client that holds several Conns: the
// counters add up, Open becomes true if either is, and the heartbeat times are the larger of
// the two (the slowest socket is the one to watch).
func (s Stats) Add(o Stats) Stats {
	s.FramesIn += o.FramesIn
	s.FramesOut += o.FramesOut
	s.BytesIn += o.BytesIn
	s.BytesOut += o.BytesOut
	s.Opens += o.Opens
	s.Reconnects += o.Reconnects
	s.FailedDials += o.FailedDials
	s.Open = s.Open || o.Open
	s.Dropped += o.Dropped
	s.HeartbeatRTT = max(s.HeartbeatRTT, o.HeartbeatRTT)
	s.HeartbeatRTTSmoothed = max(s.HeartbeatRTTSmoothed, o.HeartbeatRTTSmoothed)
	return s
}

// connStats are the counters behind [Conn.Stats]. Each is updated by the one goroutine that
// does the counted work (the reader, the writer, the supervisor), or under the Conn's lock.
type connStats struct {
	framesIn, framesOut atomic.Uint64
	bytesIn, bytesOut   atomic.Uint64
	opens, failedDials  atomic.Uint64
	dropped             atomic.Uint64
	open                atomic.Bool
	rtt, srtt           atomic.Int64 // nanoseconds
}

// Stats returns a snapshot of the Conn's counters. It takes no lock and is cheap enough to call
// every second.
func (c *Conn) Stats() Stats {
	st := &c.stats
	s := Stats{
		FramesIn:             st.framesIn.Load(),
		FramesOut:            st.framesOut.Load(),
		BytesIn:              st.bytesIn.Load(),
		BytesOut:             st.bytesOut.Load(),
		Opens:                st.opens.Load(),
		FailedDials:          st.failedDials.Load(),
		Open:                 st.open.Load(),
		Dropped:              st.dropped.Load(),
		HeartbeatRTT:         time.Duration(st.rtt.Load()),
		HeartbeatRTTSmoothed: time.Duration(st.srtt.Load()),
	}
	if s.Opens > 0 {
		s.Reconnects = s.Opens - 1
	}
	return s
}

// heartbeatAnswered records the round trip of an answered heartbeat (reader goroutine).
func (c *Conn) heartbeatAnswered(rtt time.Duration) {
	st := &c.stats
	st.rtt.Store(int64(rtt))
	if old := st.srtt.Load(); old == 0 {
		st.srtt.Store(int64(rtt))
	} else {
		st.srtt.Store(old + (int64(rtt)-old)/8)
	}
	if c.cfg.OnHeartbeat != nil {
		c.cfg.OnHeartbeat(rtt)
	}
}
