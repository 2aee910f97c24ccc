// Command fakeserver runs testutil's fake Supabase Realtime server as a program, for clients
// in any language (the realtime-js interop suite uses it).
//
// It listens on a loopback address (-addr, default 127.0.0.1:0) and prints two lines on
// standard output: first the Realtime endpoint, ws://127.0.0.1:PORT/realtime/v1, to pass to
// client.New; then the base URL of its control API, http://127.0.0.1:PORT/testutil/v1/ (the
// routes of testutil.Server.ControlHandler: drop or close connections, refuse upgrades, fail
// joins, change limits). The socket is at …/realtime/v1/websocket, the REST broadcast API at
// …/realtime/v1/api/broadcast and /api/broadcast. It runs until interrupted, or for -lifetime
// if set.
//
// Without -jwt-secret it accepts any API key and token. With -jwt-secret it verifies JWTs
// against that secret (testutil.WithJWTSecret) as the real server does: the API key itself
// must then be a valid JWT too (signed with the secret, with role and exp claims), since the
// server authenticates the socket with it, and so must every channel's access token. Sign
// tokens with testutil.SignJWT or any HS256 library.
//
// The tenant limits are the real server's defaults unless set: -max-channels (channels per
// socket, 100), -max-joins-per-second (100, a rolling average), -max-users (concurrent
// sockets, 200); 0 removes a limit. -join-error-delay makes every join error reply wait, as
// the real server does (~5s); the default is 0. -persist-broadcasts turns broadcast
// persistence on. The control API's /testutil/v1/limits, join_error_delay and persistence
// routes change them at run time.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-supabase/realtime/testutil"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback only)")
	lifetime := flag.Duration("lifetime", 0, "exit after this long (0: run until interrupted)")
	verbose := flag.Bool("v", false, "log protocol warnings to standard error")
	jwtSecret := flag.String("jwt-secret", "", "verify JWTs (HS256/384/512) against this secret; the API key must then be a valid JWT too, with role and exp claims (default: accept any key and token)")
	maxChannels := flag.Int("max-channels", testutil.DefaultMaxChannelsPerClient, "channels one socket may have open (0: no limit)")
	maxJoins := flag.Int("max-joins-per-second", testutil.DefaultMaxJoinsPerSecond, "limit of the average joins per second (0: no limit)")
	maxUsers := flag.Int("max-users", testutil.DefaultMaxConcurrentUsers, "sockets with joins at once (0: no limit)")
	joinErrorDelay := flag.Duration("join-error-delay", 0, "wait before each join error reply (the real server waits ~5s)")
	persist := flag.Bool("persist-broadcasts", false, "persist the broadcasts of private channels (ack replies carry their id)")
	flag.Usage = func() {
		out := flag.CommandLine.Output()
		fmt.Fprintf(out, "usage: fakeserver [flags]\n\n"+
			"Runs a fake Supabase Realtime server on a loopback address and prints its WebSocket\n"+
			"endpoint (for client.New) and the base URL of its control API.\n"+
			"With -jwt-secret, the API key a client connects with must be a valid JWT signed with\n"+
			"that secret (role and exp claims), like every channel's access token.\n\nflags:\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("fakeserver: ")

	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		log.Fatalf("-addr: %v", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		log.Fatalf("-addr must be a loopback address, got %q", host)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	// A long-running server keeps only the newest frames for its control API.
	opts := []testutil.ServerOption{testutil.WithRecordLimit(100000)}
	if *verbose {
		opts = append(opts, testutil.WithServerLogger(slog.New(slog.NewTextHandler(os.Stderr, nil))))
	}
	if *jwtSecret != "" {
		opts = append(opts, testutil.WithJWTSecret(*jwtSecret))
	}
	opts = append(opts, testutil.WithMaxChannelsPerClient(*maxChannels), testutil.WithMaxJoinsPerSecond(*maxJoins),
		testutil.WithMaxConcurrentUsers(*maxUsers), testutil.WithJoinErrorDelay(*joinErrorDelay))
	if *persist {
		opts = append(opts, testutil.WithBroadcastPersistence())
	}
	srv := testutil.NewUnstartedServer(opts...)
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}

	fmt.Printf("ws://%s/realtime/v1\n", ln.Addr())
	fmt.Printf("http://%s/testutil/v1/\n", ln.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *lifetime > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *lifetime)
		defer cancel()
	}
	go func() {
		<-ctx.Done()
		srv.Close() // the websocket connections are hijacked: close them first
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}
