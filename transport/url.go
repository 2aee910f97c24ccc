package transport

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// Endpoint turns what a user configures into the WebSocket URL of the Realtime socket, without
// a query string. It accepts:
//
//   - a project URL, https://<ref>.supabase.co (or any URL without a path, such as the local
//     stack's http://127.0.0.1:54321): wss://<ref>.supabase.co/realtime/v1/websocket;
//   - a Realtime endpoint, ws(s)://host[:port]/realtime/v1, or http(s)://… which maps to
//     ws(s)://…: /websocket is appended;
//   - a full socket URL ending in /websocket, kept as it is.
//
// A query string or fragment in raw is an error: parameters are given separately.
func Endpoint(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, invalidArg(fmt.Sprintf("bad URL: %v", urlErrorText(err)))
	}
	switch u.Scheme {
	case "https":
		u.Scheme = "wss"
	case "http":
		u.Scheme = "ws"
	case "ws", "wss":
	case "":
		return nil, invalidArg("URL needs a scheme (https://, http://, wss:// or ws://)")
	default:
		return nil, invalidArg(fmt.Sprintf("unsupported URL scheme %q", u.Scheme))
	}
	if u.Host == "" {
		return nil, invalidArg("URL has no host")
	}
	if u.User != nil {
		return nil, invalidArg("URL must not carry user information")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, invalidArg("URL must not have a query or fragment; pass parameters as options")
	}
	path := strings.TrimRight(u.Path, "/")
	switch {
	case path == "":
		path = "/realtime/v1/websocket"
	case strings.HasSuffix(path, "/websocket"):
	default:
		path += "/websocket"
	}
	u.Path, u.RawPath = path, ""
	return u, nil
}

// urlErrorText strips the URL itself from a url.Parse error: it could hold a secret.
func urlErrorText(err error) string {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err.Error()
	}
	return "invalid"
}

// SocketURL returns the URL to dial: the endpoint with apikey first, then params (sorted by
// name), then vsn last, all percent-encoded (docs/protocol.md §1.1). An empty apiKey is left out,
// so that a key sent in the x-api-key header does not travel in the URL too.
func SocketURL(endpoint *url.URL, apiKey string, params url.Values, v Version) string {
	var q strings.Builder
	add := func(k, val string) {
		if q.Len() > 0 {
			q.WriteByte('&')
		}
		q.WriteString(url.QueryEscape(k))
		q.WriteByte('=')
		q.WriteString(url.QueryEscape(val))
	}
	if apiKey != "" {
		add("apikey", apiKey)
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != "apikey" && k != "vsn" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, val := range params[k] {
			add(k, val)
		}
	}
	add("vsn", string(v))
	u := *endpoint
	u.RawQuery = q.String()
	return u.String()
}

// secretParams are the query parameters whose values Redact hides.
var secretParams = []string{"apikey", "access_token", "token", "jwt"}

// Redact returns rawURL with the values of secret-bearing query parameters (apikey,
// access_token, token, jwt) replaced by REDACTED, for logs and errors.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "<unparsable URL>"
	}
	if u.User != nil {
		u.User = url.User("REDACTED")
	}
	if u.RawQuery == "" {
		return u.String()
	}
	parts := strings.Split(u.RawQuery, "&")
	for i, p := range parts {
		k, _, _ := strings.Cut(p, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			name = k
		}
		for _, s := range secretParams {
			if strings.EqualFold(name, s) {
				parts[i] = k + "=REDACTED"
			}
		}
	}
	u.RawQuery = strings.Join(parts, "&")
	return u.String()
}

// HTTPBase returns the base URL of the REST API next to a socket endpoint, the way realtime-js
// derives it: ws→http, wss→https, and the trailing /websocket (or /socket/websocket) removed.
// Append /api/broadcast to it.
func HTTPBase(endpoint *url.URL) string {
	u := *endpoint
	u.RawQuery, u.Fragment = "", ""
	switch u.Scheme {
	case "wss":
		u.Scheme = "https"
	case "ws":
		u.Scheme = "http"
	}
	p := strings.TrimSuffix(u.Path, "/websocket")
	p = strings.TrimSuffix(p, "/socket")
	u.Path, u.RawPath = p, ""
	return strings.TrimRight(u.String(), "/")
}
