package main

import (
	"context"
	"errors"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-supabase/realtime/client"
	"github.com/go-supabase/realtime/presence"
	"github.com/go-supabase/realtime/subscribe"
)

// Message is a chat message as it travels in a broadcast.
type Message struct {
	User string `json:"user"`
	Text string `json:"text"`
}

// Typing is the typing indicator a user broadcasts while composing a message.
type Typing struct {
	User string `json:"user"`
}

// Member is what each user tracks in the room's presence, under the user id as key.
type Member struct {
	User     string    `json:"user"`
	OnlineAt time.Time `json:"online_at"`
}

// Event is what the room reports to its user: a message, someone typing, someone joining or
// leaving. Exactly one field is set.
type Event struct {
	Message *Message
	Typing  string // the user who is typing
	Joined  string // the user who joined
	Left    string // the user who left
}

// typingTTL is how long a typing indicator lasts without a new one.
const typingTTL = 3 * time.Second

// Room is one user in one chat room: a channel with acknowledged broadcasts (so that Say
// returns once the server has published the message) and presence keyed by the user id (so
// that a user's rejoins, or several tabs, count as one member).
type Room struct {
	User   string
	ch     *client.Channel
	events chan Event
	stop   context.CancelFunc
	wg     sync.WaitGroup

	leaving atomic.Bool // Leave was called: the presence events that follow are our own leave

	mu     sync.Mutex
	typing map[string]time.Time // who is typing, until when
}

// Join joins room on rt as user, tracks the user's presence, and starts reporting events on
// Events.
func Join(ctx context.Context, rt *client.Client, room, user string) (*Room, error) {
	if user == "" {
		return nil, errors.New("chat: empty user id")
	}
	ch, err := rt.Channel("chat:"+room, client.BroadcastAck(), client.PresenceKey(user))
	if err != nil {
		return nil, err
	}
	life, stop := context.WithCancel(context.Background())
	r := &Room{User: user, ch: ch, events: make(chan Event, 64), stop: stop, typing: map[string]time.Time{}}
	msgs := ch.OnBroadcast(life, "message")
	typing := ch.OnBroadcast(life, "typing")
	// Every presence event, not only the latest state (the default for a slow reader).
	pres := ch.OnPresence(life, subscribe.WithOverflow(subscribe.Evict), subscribe.WithBuffer(256))
	if err := ch.Subscribe(ctx); err != nil {
		stop()
		return nil, err
	}
	if err := ch.Track(ctx, Member{User: user, OnlineAt: time.Now().UTC()}); err != nil {
		stop()
		return nil, err
	}
	r.wg.Go(func() {
		defer close(r.events)
		synced := false // the members present before us arrive as joins of the first state
		for {
			select {
			case b, ok := <-msgs.C():
				if !ok {
					return
				}
				var m Message
				if b.Decode(&m) == nil && m.User != user {
					r.setTyping(m.User, false)
					r.events <- Event{Message: &m}
				}
			case b, ok := <-typing.C():
				if !ok {
					return
				}
				var t Typing
				if b.Decode(&t) == nil && t.User != user && r.setTyping(t.User, true) {
					r.events <- Event{Typing: t.User}
				}
			case ev, ok := <-pres.C():
				if !ok {
					return
				}
				if r.leaving.Load() {
					continue
				}
				switch e := ev.(type) {
				case presence.Sync:
					synced = true
				case presence.Join:
					if synced && e.Key != user && len(e.Current) == 0 {
						r.events <- Event{Joined: e.Key}
					}
				case presence.Leave:
					if e.Key != user && len(e.Current) == 0 {
						r.events <- Event{Left: e.Key}
					}
				}
			}
		}
	})
	return r, nil
}

// setTyping records that user is typing (on) or has sent their message, and reports whether
// the indicator is new (the user was not already shown as typing).
func (r *Room) setTyping(user string, on bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	until, shown := r.typing[user]
	if !on {
		delete(r.typing, user)
		return false
	}
	r.typing[user] = time.Now().Add(typingTTL)
	return !shown || time.Now().After(until)
}

// Events returns the room's events; the channel closes after Leave.
func (r *Room) Events() <-chan Event { return r.events }

// Typing tells the room that the user is composing a message. It is fire and forget: the
// indicator does not need the server's acknowledgement.
func (r *Room) Typing(ctx context.Context) error {
	_, err := r.ch.BroadcastWithAck("typing", Typing{User: r.User})
	return err
}

// Say sends a message and returns once the server has acknowledged it.
func (r *Room) Say(ctx context.Context, text string) error {
	return r.ch.Broadcast(ctx, "message", Message{User: r.User, Text: text})
}

// Members returns the user ids present in the room, sorted.
func (r *Room) Members() []string {
	keys := r.ch.PresenceState().Keys()
	sort.Strings(keys)
	return keys
}

// Leave leaves the room (the others see the user leave) and stops the events.
func (r *Room) Leave(ctx context.Context) error {
	r.leaving.Store(true)
	err := r.ch.Unsubscribe(ctx)
	r.stop()
	go func() { // unblock the event goroutine if nobody reads any more
		for range r.events {
		}
	}()
	r.wg.Wait()
	return err
}
