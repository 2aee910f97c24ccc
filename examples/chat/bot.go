package main

import (
	"context"
	"strings"

	"github.com/go-supabase/realtime/client"
)

// botUser is the user id of the embedded demo's bot, and botAnswer how its answers begin.
const (
	botUser   = "bot"
	botAnswer = "you said: "
)

// startBot runs the embedded demo's second user: it greets each newcomer and answers each
// message, typing first. stop leaves the room and closes its client.
func startBot(ctx context.Context, url, key, room string) (stop func(), err error) {
	rt, err := client.New(url, key)
	if err != nil {
		return nil, err
	}
	r, err := Join(ctx, rt, room, botUser)
	if err != nil {
		rt.Close()
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range r.Events() {
			var reply string
			switch {
			case ev.Joined != "":
				reply = "hi " + ev.Joined + "! say something"
			case ev.Message != nil:
				reply = botAnswer + strings.ToUpper(ev.Message.Text)
			default:
				continue
			}
			_ = r.Typing(ctx)
			_ = r.Say(ctx, reply)
		}
	}()
	return func() {
		_ = r.Leave(context.Background())
		<-done
		rt.Close()
	}, nil
}
