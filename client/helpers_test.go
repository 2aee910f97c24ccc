package client_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-supabase/realtime/client"
	"github.com/go-supabase/realtime/subscribe"
	"github.com/go-supabase/realtime/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyTestMain(m, noSecretLogged) }

const testKey = "test-api-key-5ecret"

// suiteLogger records every log line of the clients newClient makes, at debug level, for the
// end-of-suite check that no secret was ever logged.
var suiteLogger, suiteLogs = testutil.NewLogger(nil)

// secrets are the API key and the tokens the tests use; none may appear in a log line or an
// error text. The last one is the header of every token fakeJWT makes.
var secrets = []string{testKey, "static-user-token", "user-jwt-token", "user-token-1", "user-token-2",
	"channel-token", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"}

func leakedSecret(text string) string {
	for _, s := range secrets {
		if strings.Contains(text, s) {
			return s
		}
	}
	return ""
}

func noSecretLogged() error {
	for _, line := range suiteLogs.Lines() {
		if s := leakedSecret(line); s != "" {
			return fmt.Errorf("a log line of the suite holds the secret %q: %s", s, line)
		}
	}
	return nil
}

func second(int) time.Duration { return time.Second }

// newClient returns a client of srv with exact (unjittered) one-second backoffs, closed at the
// end of the test.
func newClient(t *testing.T, srv *testutil.Server, opts ...client.Option) *client.Client {
	t.Helper()
	base := []client.Option{
		client.WithLogger(suiteLogger),
		client.WithDialer(srv.Dialer()),
		client.WithHTTPClient(srv.HTTPClient()),
		client.WithBackoff(second),
		client.WithRejoinBackoff(second),
	}
	c, err := client.New(srv.URL(), testKey, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// subscribed returns a joined channel of topic.
func subscribed(t *testing.T, c *client.Client, topic string, opts ...client.ChannelOption) *client.Channel {
	t.Helper()
	ch, err := c.Channel(topic, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Subscribe(t.Context()); err != nil {
		t.Fatalf("Subscribe(%s) = %v", topic, err)
	}
	return ch
}

// recv waits (in fake time under synctest) for the next value of sub.
func recv[T any](t *testing.T, sub *subscribe.Subscription[T]) T {
	t.Helper()
	select {
	case v, ok := <-sub.C():
		if !ok {
			t.Fatalf("%v closed: %v", sub, sub.Err())
		}
		return v
	case <-time.After(time.Minute):
		t.Fatalf("nothing on %v within a minute", sub)
	}
	var zero T
	return zero
}

// none checks that nothing arrives on sub (after the bubble settled).
func none[T any](t *testing.T, sub *subscribe.Subscription[T]) {
	t.Helper()
	select {
	case v := <-sub.C():
		t.Fatalf("unexpected %+v on %v", v, sub)
	default:
	}
}

func contextWithCancel(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithCancel(ctx)
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func ioNop(s string) io.ReadCloser { return io.NopCloser(strings.NewReader(s)) }
