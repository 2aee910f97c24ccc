module github.com/go-supabase/realtime

go 1.25.0

require (
	github.com/google/go-cmp v0.7.0
	github.com/gorilla/websocket v1.5.3
)
