package client_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/go-supabase/realtime/client"
	"github.com/go-supabase/realtime/testutil"
	"github.com/google/go-cmp/cmp"
)

func TestErrorsMatchByCode(t *testing.T) {
	srv := testutil.NewServer(t)
	srv.FailJoins("room", 1, "ChannelRateLimitReached: Too many channels")
	c := newClient(t, srv)
	ch, _ := c.Channel("room")
	err := ch.Subscribe(t.Context())
	wrapped := fmt.Errorf("joining the lobby: %w", err)
	if !errors.Is(wrapped, client.ErrRateLimited) || errors.Is(wrapped, client.ErrTimeout) {
		t.Errorf("errors.Is on %v: want rate_limited only", wrapped)
	}
	var e *client.Error
	if !errors.As(wrapped, &e) || e.Code != client.CodeRateLimited || e.Message != "ChannelRateLimitReached: Too many channels" {
		t.Fatalf("errors.As = %+v", e)
	}
	if got := e.Error(); got != "realtime: rate_limited: ChannelRateLimitReached: Too many channels (topic=realtime:room)" {
		t.Errorf("Error() = %q", got)
	}
	se := client.ToServiceError(wrapped)
	want := &client.ServiceError{Service: "realtime", Code: "rate_limited", Message: "ChannelRateLimitReached: Too many channels",
		Details: map[string]any{"topic": "realtime:room"}}
	if diff := cmp.Diff(want, se, cmp.Comparer(func(a, b *client.ServiceError) bool {
		return a.Service == b.Service && a.Code == b.Code && a.Message == b.Message && cmp.Equal(a.Details, b.Details)
	})); diff != "" {
		t.Errorf("ToServiceError (-want +got):\n%s", diff)
	}
	if !errors.Is(se, client.ErrRateLimited) {
		t.Error("the service form does not unwrap to the original")
	}
	if se := client.ToServiceError(errors.New("boom")); se.Code != "server_error" || se.Message != "boom" || se.Service != "realtime" {
		t.Errorf("ToServiceError(plain) = %+v", se)
	}
	if client.ToServiceError(nil) != nil {
		t.Error("ToServiceError(nil) != nil")
	}
}

// The REST endpoints are served under the endpoint path (platform) and at /api (self-hosted).
func TestRESTPaths(t *testing.T) {
	srv := testutil.NewServer(t)
	srv.Start()
	for _, path := range []string{"/realtime/v1/api/broadcast", "/api/broadcast", "/api/broadcast/room/events/e"} {
		base := strings.TrimSuffix(srv.HTTPURL(), "/realtime/v1")
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(`{"messages":[{"topic":"room","event":"e","payload":{}}]}`))
		req.Header.Set("apikey", testKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Errorf("POST %s = %d; want 202", path, resp.StatusCode)
		}
	}
}
