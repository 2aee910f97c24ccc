// Command chat is a chat room on Supabase Realtime with the Go SDK: messages sent as
// acknowledged broadcasts, presence keyed by user id, a typing indicator, and a graceful
// shutdown on Ctrl-C (the others see the user leave).
//
// Each line read from standard input is a message; /who lists the members, /quit leaves.
// With no -url (and no $SUPABASE_URL) it runs against an embedded fake Realtime server, with
// a second user, "bot", who greets newcomers and answers each message:
//
//	go run ./examples/chat -user alice
//
// Against a project, run it in two terminals with two user ids:
//
//	SUPABASE_URL=https://<ref>.supabase.co SUPABASE_KEY=<anon key> go run ./examples/chat -user alice
//
// With -metrics :9090, the client's counters (client.Stats) are served as expvar JSON at
// http://localhost:9090/debug/vars, ready for a dashboard.
package main

import (
	"bufio"
	"context"
	"errors"
	"expvar"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/go-supabase/realtime/client"
	"github.com/go-supabase/realtime/testutil"
)

func main() {
	url := flag.String("url", os.Getenv("SUPABASE_URL"), "project URL or Realtime endpoint; empty: an embedded fake server")
	key := flag.String("key", os.Getenv("SUPABASE_KEY"), "API key")
	room := flag.String("room", "lobby", "room name")
	user := flag.String("user", os.Getenv("USER"), "your user id")
	metrics := flag.String("metrics", "", "serve the client's counters as expvar JSON on this address (e.g. :9090)")
	flag.Parse()

	// Ctrl-C or SIGTERM: leave the room and close the client gracefully.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, options{url: *url, key: *key, room: *room, user: *user, metrics: *metrics}, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "chat:", err)
		os.Exit(1)
	}
}

type options struct {
	url, key, room, user, metrics string
}

func run(ctx context.Context, o options, in io.Reader, out io.Writer) error {
	embedded := o.url == ""
	if embedded {
		srv := testutil.NewUnstartedServer()
		srv.Start()
		defer srv.Close()
		o.url, o.key = srv.URL(), "demo-key"
		fmt.Fprintln(out, "using an embedded fake Realtime server, with a bot")
	}
	rt, err := client.New(o.url, o.key)
	if err != nil {
		return err
	}
	defer rt.Close()
	if o.metrics != "" {
		stopMetrics, err := serveMetrics(rt, o.metrics)
		if err != nil {
			return err
		}
		defer stopMetrics()
	}

	answered := make(chan struct{}, 16) // the bot answered a message (embedded demo only)
	if embedded {
		stopBot, err := startBot(ctx, o.url, o.key, o.room)
		if err != nil {
			return err
		}
		defer stopBot()
	}

	r, err := Join(ctx, rt, o.room, o.user)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "joined %s as %s; members: %s\n", o.room, o.user, strings.Join(r.Members(), ", "))

	printed := make(chan struct{})
	go func() {
		defer close(printed)
		for ev := range r.Events() {
			switch {
			case ev.Message != nil:
				fmt.Fprintf(out, "[%s] %s\n", ev.Message.User, ev.Message.Text)
				if ev.Message.User == botUser && strings.HasPrefix(ev.Message.Text, botAnswer) {
					select {
					case answered <- struct{}{}:
					default:
					}
				}
			case ev.Typing != "":
				fmt.Fprintf(out, "%s is typing…\n", ev.Typing)
			case ev.Joined != "":
				fmt.Fprintf(out, "* %s joined\n", ev.Joined)
			case ev.Left != "":
				fmt.Fprintf(out, "* %s left\n", ev.Left)
			}
		}
	}()

	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()

	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case line, ok := <-lines:
			if !ok || line == "/quit" {
				break loop
			}
			switch line = strings.TrimSpace(line); line {
			case "":
				continue
			case "/who":
				fmt.Fprintf(out, "members: %s\n", strings.Join(r.Members(), ", "))
				continue
			}
			_ = r.Typing(ctx)
			if err := r.Say(ctx, line); err != nil {
				if errors.Is(err, context.Canceled) {
					break loop
				}
				fmt.Fprintf(out, "not sent: %v\n", err)
				continue
			}
			fmt.Fprintf(out, "[%s] %s ✓\n", o.user, line)
			if embedded {
				wait(ctx, answered, 5*time.Second) // let the bot answer before the next line
			}
		}
	}

	// Graceful shutdown, bounded: leave the room (the others see the user leave), then close.
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Leave(sctx); err != nil {
		runErr = err
	}
	<-printed
	if err := rt.Shutdown(sctx); err != nil && runErr == nil {
		runErr = err
	}
	fmt.Fprintln(out, "bye")
	return runErr
}

// wait waits for a value on c, for d, or for ctx.
func wait(ctx context.Context, c <-chan struct{}, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c:
	case <-t.C:
	case <-ctx.Done():
	}
}

// serveMetrics publishes rt.Stats() as the expvar "realtime" and serves /debug/vars on addr.
func serveMetrics(rt *client.Client, addr string) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if expvar.Get("realtime") == nil {
		expvar.Publish("realtime", expvar.Func(func() any { return rt.Stats() }))
	}
	hs := &http.Server{Handler: expvar.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	return func() { _ = hs.Close() }, nil
}
