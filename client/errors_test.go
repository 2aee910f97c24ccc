package client_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-supabase/realtime/client"
	"github.com/go-supabase/realtime/testutil"
	"github.com/google/go-cmp/cmp"
)

func TestErrorsMatchByCode(t *testing.T) {
	srv := testutil.NewServer(t)
	const reason = "DatabaseConnectionRateLimitReached: Too many database connections attempts per second"
	srv.FailJoins("room", 1, reason)
	c := newClient(t, srv)
	ch, _ := c.Channel("room")
	err := ch.Subscribe(t.Context())
	wrapped := fmt.Errorf("joining the lobby: %w", err)
	if !errors.Is(wrapped, client.ErrRateLimited) || errors.Is(wrapped, client.ErrTimeout) {
		t.Errorf("errors.Is on %v: want rate_limited only", wrapped)
	}
	var e *client.Error
	if !errors.As(wrapped, &e) || e.Code != client.CodeRateLimited || e.Message != reason {
		t.Fatalf("errors.As = %+v", e)
	}
	// A tenant-wide limit says how long the client holds off (70 s ±15% by default).
	retry, _ := e.Details["retry_in"].(time.Duration)
	if retry < 59*time.Second || retry > 81*time.Second {
		t.Errorf("retry_in = %v; want about 70 s", e.Details["retry_in"])
	}
	if got, want := e.Error(), fmt.Sprintf("realtime: rate_limited: %s (retry_in=%v, topic=realtime:room)", reason, retry); got != want {
		t.Errorf("Error() = %q; want %q", got, want)
	}
	se := client.ToServiceError(wrapped)
	want := &client.ServiceError{Service: "realtime", Code: "rate_limited", Message: reason,
		Details: map[string]any{"topic": "realtime:room", "retry_in": retry}}
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
