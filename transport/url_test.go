package transport_test

import (
	"errors"
	"net/url"
	"testing"

	"github.com/go-supabase/realtime/transport"
)

func TestEndpoint(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"https://abcd.supabase.co", "wss://abcd.supabase.co/realtime/v1/websocket"},
		{"https://abcd.supabase.co/", "wss://abcd.supabase.co/realtime/v1/websocket"},
		{"http://127.0.0.1:54321", "ws://127.0.0.1:54321/realtime/v1/websocket"},
		{"https://abcd.supabase.co/realtime/v1", "wss://abcd.supabase.co/realtime/v1/websocket"},
		{"wss://abcd.supabase.co/realtime/v1/", "wss://abcd.supabase.co/realtime/v1/websocket"},
		{"ws://localhost:4000/socket", "ws://localhost:4000/socket/websocket"},
		{"ws://localhost:4000/realtime/v1/websocket", "ws://localhost:4000/realtime/v1/websocket"},
		{"  https://abcd.supabase.co  ", "wss://abcd.supabase.co/realtime/v1/websocket"},
	} {
		u, err := transport.Endpoint(tt.in)
		if err != nil || u.String() != tt.want {
			t.Errorf("Endpoint(%q) = %v, %v; want %s", tt.in, u, err, tt.want)
		}
	}
	for _, bad := range []string{"", "abcd.supabase.co", "ftp://x", "https://", "https://user:pw@x.co", "https://x.co/?apikey=k", "https://x.co/#frag", "://"} {
		if _, err := transport.Endpoint(bad); !errors.Is(err, transport.ErrInvalidArgument) {
			t.Errorf("Endpoint(%q) = %v; want ErrInvalidArgument", bad, err)
		}
	}
}

func TestSocketURL(t *testing.T) {
	ep, _ := transport.Endpoint("https://abcd.supabase.co")
	got := transport.SocketURL(ep, "ey J/+=", url.Values{"log_level": {"info"}, "a": {"1", "2"}, "apikey": {"x"}, "vsn": {"9"}}, transport.V2)
	want := "wss://abcd.supabase.co/realtime/v1/websocket?apikey=ey+J%2F%2B%3D&a=1&a=2&log_level=info&vsn=2.0.0"
	if got != want {
		t.Errorf("SocketURL = %s\nwant       %s", got, want)
	}
	if got := transport.SocketURL(ep, "", nil, transport.V1); got != "wss://abcd.supabase.co/realtime/v1/websocket?vsn=1.0.0" {
		t.Errorf("SocketURL without a key = %s", got)
	}
}

func TestRedact(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"wss://x.co/realtime/v1/websocket?apikey=secret&vsn=2.0.0", "wss://x.co/realtime/v1/websocket?apikey=REDACTED&vsn=2.0.0"},
		{"wss://x.co/w?access_token=t&Token=u&jwt=v&log_level=info", "wss://x.co/w?access_token=REDACTED&Token=REDACTED&jwt=REDACTED&log_level=info"},
		{"https://u:p@x.co/", "https://REDACTED@x.co/"},
		{"https://x.co/plain", "https://x.co/plain"},
	} {
		if got := transport.Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%s) = %s; want %s", tt.in, got, tt.want)
		}
	}
}

func TestHTTPBase(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"https://abcd.supabase.co", "https://abcd.supabase.co/realtime/v1"},
		{"ws://localhost:4000/socket", "http://localhost:4000"},
		{"ws://127.0.0.1:9/realtime/v1", "http://127.0.0.1:9/realtime/v1"},
	} {
		ep, err := transport.Endpoint(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := transport.HTTPBase(ep); got != tt.want {
			t.Errorf("HTTPBase(%s) = %s; want %s", tt.in, got, tt.want)
		}
	}
}
