package client

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/go-supabase/realtime/presence"
	"github.com/go-supabase/realtime/transport"
)

// Presence messages whose processing would hold the router for long run off it (see heavy.go):
// a message of heavyPresenceBytes or more, or a presence_state while the channel's state holds
// heavyPresenceMembers members or more (its processing walks the whole state). Their events
// are delivered presenceSlice at a time.
const (
	heavyPresenceBytes   = 32 << 10
	heavyPresenceMembers = 2048
	presenceSlice        = 1024
)

// presenceJob is a presence message handled off the router goroutine: computed by a goroutine
// on a clone of the channel's tracker, then delivered by the router in slices.
type presenceJob struct {
	clone   *presence.Tracker
	payload []byte
	state   bool          // a presence_state, else a presence_diff
	done    chan struct{} // closed once computed
	evs     []presence.Event
	err     error

	computed bool // evs and err are in, the clone installed
	next     int  // the next event to deliver
	over     bool // delivered, or dropped; the hold is released
	charge   int  // the bytes the frame gate admitted for its frame, released once over
}

// end marks the job over and gives its frame's bytes back to the frame gate.
func (job *presenceJob) end(r *router) {
	job.over = true
	r.c.frames.release(job.charge)
	job.charge = 0
}

// route handles a presence_state (state set) or presence_diff: on the router goroutine when it
// is cheap, else off it.
func (f *presenceFeature) route(m *transport.Message, state bool) {
	t := f.track()
	if len(m.Payload) < heavyPresenceBytes && (!state || t.State().Len() < heavyPresenceMembers) {
		evs, err := handlePresence(t, m.Payload, state)
		f.handled(evs, err, state)
		return
	}
	s, r := f.s, f.s.r
	job := &presenceJob{clone: t.Clone(), payload: m.Payload, state: state, done: make(chan struct{}), charge: r.takeCharge()}
	f.job = job
	topic := s.topic()
	r.hold(topic, func() { f.complete(job, topic, true) })
	r.heavy.jobs.Go(func() {
		if hook := r.presenceJobHook; hook != nil {
			hook()
		}
		job.evs, job.err = handlePresence(job.clone, job.payload, job.state)
		job.payload = nil // the frame it points into, up to the read limit, is not needed any more
		close(job.done)
		r.c.post(func() { f.complete(job, topic, false) })
	})
}

func handlePresence(t *presence.Tracker, payload []byte, state bool) ([]presence.Event, error) {
	if state {
		return t.HandleState(payload)
	}
	return t.HandleDiff(payload)
}

// complete takes a job on from where it is: it installs its result, then delivers its events,
// a slice at a time (posting the rest after other work) or, with all, at once. Once the events
// are out, or the job was dropped, it releases the channel's topic.
func (f *presenceFeature) complete(job *presenceJob, topic string, all bool) {
	if job.over {
		return
	}
	r := f.s.r
	if f.job != job {
		// Dropped by a new join or a leave: what it computed is for a state that is gone.
		job.end(r)
		r.release(topic)
		return
	}
	if !job.computed {
		<-job.done // at once, unless finishing early
		job.computed = true
		f.tracker = job.clone
		if job.err != nil && !errors.Is(job.err, presence.ErrRefused) {
			f.handled(nil, job.err, job.state)
			job.evs = nil
		} else {
			f.publish(job.evs)
			f.report(job.err, job.state)
		}
	}
	end := len(job.evs)
	if !all {
		end = min(job.next+presenceSlice, end)
	}
	for ; job.next < end; job.next++ {
		ev := job.evs[job.next]
		job.evs[job.next] = nil
		f.deliverOne(ev)
	}
	if job.next < len(job.evs) {
		r.c.post(func() { f.complete(job, topic, false) })
		return
	}
	job.end(r)
	f.job = nil
	r.release(topic)
}

// settleJob brings a job under way to a point where the channel's state can change: a job
// still computing is dropped when reset is set (a new join or a leave makes its result moot);
// the events of one being delivered are delivered at once. The topic is released after the
// current work, never in the middle of a transition.
func (f *presenceFeature) settleJob(reset bool) {
	job := f.job
	if job == nil || (!job.computed && !reset) {
		return
	}
	r := f.s.r
	topic := f.s.topic()
	if job.computed {
		for ; job.next < len(job.evs); job.next++ {
			ev := job.evs[job.next]
			job.evs[job.next] = nil
			f.deliverOne(ev)
		}
	}
	f.job = nil
	if job.computed {
		job.end(r)
		r.c.post(func() { r.release(topic) })
	}
	// A job still computing releases the topic when its result comes back and is dropped.
}

// handled publishes and delivers the events of a presence message handled on the router
// goroutine, or logs why it was dropped, and reports what was refused.
func (f *presenceFeature) handled(evs []presence.Event, err error, state bool) {
	if err != nil && !errors.Is(err, presence.ErrRefused) {
		f.s.r.c.log.Warn("realtime: dropped a malformed "+presenceEvent(state), "topic", f.s.topic(), "error", err.Error())
		return
	}
	f.deliver(evs)
	f.report(err, state)
}

// publish makes the tracker's state the one PresenceState returns.
func (f *presenceFeature) publish(evs []presence.Event) {
	if len(evs) == 0 {
		return
	}
	st := f.tracker.State()
	f.s.ch.presSnap.Store(&st)
}

func presenceEvent(state bool) string {
	if state {
		return transport.EventPresState
	}
	return transport.EventPresDiff
}

// report tells the user what the tracker refused of a message: a System error on the
// channel's OnSystem subscriptions, and a log line (a warning for the first of each join).
func (f *presenceFeature) report(err error, state bool) {
	var re *presence.RefusedError
	if !errors.As(err, &re) {
		return
	}
	s := f.s
	msg := strings.TrimPrefix(re.Error(), "presence: ") + " in a " + presenceEvent(state) + "; the state does not grow beyond them (see PresenceLimits)"
	args := []any{"topic", s.topic(), "members", re.Members, "metas", re.Metas, "invalid_keys", re.InvalidKeys,
		"max_members", re.Limits.MaxMembers, "max_metas", re.Limits.MaxMetas}
	if !f.refusedThisJoin {
		f.refusedThisJoin = true
		s.r.c.log.Warn("realtime: presence refused: "+msg, args...)
	} else {
		s.r.c.log.Debug("realtime: presence refused: "+msg, args...)
	}
	payload, _ := json.Marshal(map[string]any{"status": "error", "extension": "presence", "message": msg})
	sys := System{Status: "error", Extension: "presence", Message: msg, Payload: payload, Topic: s.topic(), Seq: s.nextSeq()}
	s.cold().system.feeds = deliver(s.cold().system.feeds, sys, len(payload))
	if s.eventsWanted() {
		s.cold().evs.emit(sys, len(payload))
	}
}

// presenceLimits returns the bounds of the channel's presence state.
func (f *presenceFeature) presenceLimits() presence.Limits {
	if l := f.s.ch.cfg.presenceLimits; l != nil {
		return *l
	}
	return f.s.r.c.cfg.presence
}
