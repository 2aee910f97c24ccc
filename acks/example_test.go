package acks_test

import (
	"context"
	"fmt"

	"github.com/go-supabase/realtime/acks"
)

func ExampleFuture() {
	fut, settle := acks.New[string]()
	go settle("ok", nil) // a reply arrives on another goroutine

	select {
	case <-fut.Done():
		v, err := fut.Wait(context.Background())
		fmt.Println(v, err)
	}
	// Output: ok <nil>
}
