// Command rtcat is a command-line Supabase Realtime client, like wscat for Realtime: it joins
// one channel, or one per -topic flag (repeatable; every channel gets the same options), prints
// what happens on them as JSON lines, and takes commands as JSON lines on standard input.
//
// With no -url (and no $SUPABASE_URL) it starts an embedded fake Realtime server on a loopback
// port and says so on standard error, so it works out of the box; a second rtcat can join it
// with -url.
//
// Input, one JSON object per line; an op goes to the channel its "topic" names (the subtopic,
// as given to -topic), or to the first one without it:
//
//	{"op":"broadcast","topic":"room:a","event":"e","payload":{…}}
//	{"op":"track","payload":{…}}
//	{"op":"untrack"}
//	{"op":"set_auth","token":"…"}
//	{"op":"leave"}
//	{"op":"quit"}
//
// Output, one JSON object per line. Everything that happens on the channels is read from one
// ordered subscription (client.Client.OnEventsOf), so its lines come out in the order the
// server's frames arrived, whatever their kind (per socket: the client puts at most 100 channels
// on one socket, as the server allows, and opens more for more). Every line about a channel or
// an event on it says its "topic", right after "kind" (left out below); connection lines come
// from the sockets' own subscription.
//
//	{"kind":"connection","state":"connecting|open|closing|closed"}
//	{"kind":"channel","topic":"room:a","state":"joining|joined|errored|leaving|closed","error":"…"}
//	{"kind":"broadcast","event":"e","payload":…,"meta":{…}}   (binary payloads as "payload_base64")
//	{"kind":"broadcast","type":"GAP","since":"…","until":"…"}  (-replay-auto: broadcasts may be missing)
//	{"kind":"presence","event":"join","key":"k","current":[…],"new":[…]}
//	{"kind":"presence","event":"leave","key":"k","current":[…],"left":[…]}
//	{"kind":"presence","event":"sync","state":{"k":[…]}}
//	{"kind":"postgres_changes","type":"INSERT","schema":"…","table":"…","commit_timestamp":"…","record":{…},"old_record":{…},"errors":null,"bindings":["INSERT:public.t",…]}
//	{"kind":"postgres_changes","type":"GAP","since":"…","until":"…","last_commit":"…"}
//	{"kind":"system","status":"…","extension":"…","message":"…"}
//	{"kind":"ack","event":"e","status":"ok|error|timeout","id":"…","error":"…"}   (id: the stored message's, when the server persisted it)
//	{"kind":"error","error":"…"}
//
// A change is printed once, however many -postgres bindings it matched; "bindings" lists them
// as they were given on the command line. Numbers are printed exactly as received.
//
// With -postgres, the join waits until the changes are live (-pg-wait=false turns that off),
// so "joined" means changes flow. With -replay-auto on a -private channel, every rejoin replays
// the broadcasts stored while the channel was away, once each, and prints a GAP line when the
// replay may not cover the whole gap.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
