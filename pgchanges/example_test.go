package pgchanges_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/go-supabase/realtime/pgchanges"
)

func ExampleOn() {
	b := pgchanges.On(pgchanges.Insert, "public", "messages").Filter(
		pgchanges.Eq("room_id", 42),
		pgchanges.Not(pgchanges.In("status", "draft", "archived")),
		pgchanges.Eq("topic", "a, b"),
	)
	if err := b.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	j, _ := json.Marshal(b)
	fmt.Println(string(j))
	fmt.Println(b)
	// Output:
	// {"event":"INSERT","schema":"public","table":"messages","filter":"room_id=eq.42,status=not.in.(draft,archived),topic=eq.\"a, b\""}
	// INSERT on public.messages where room_id=eq.42,status=not.in.(draft,archived),topic=eq."a, b"
}

func ExampleDecode() {
	data := []byte(`{"columns":[{"name": "id", "type": "int8"}, {"name": "done", "type": "bool"}, {"name": "score", "type": "numeric"}, {"name": "tags", "type": "_text"}, {"name": "title", "type": "text"}, {"name": "due", "type": "timestamptz"}],"commit_timestamp":"2026-08-21T10:15:30.123Z","errors":null,"record":{"id": 9007199254740993, "due": "2026-08-22T11:00:00+02:00", "done": false, "tags": ["a", "b"], "score": 12.50, "title": "Buy milk"},"schema":"public","table":"todos","type":"INSERT"}`)

	c, err := pgchanges.Parse(data)
	if err != nil {
		fmt.Println(err)
		return
	}
	type Todo struct {
		ID    int64             `json:"id"`
		Title string            `json:"title"`
		Done  bool              `json:"done"`
		Score pgchanges.Numeric `json:"score"`
		Tags  []string          `json:"tags"`
		Due   time.Time         `json:"due"`
	}
	todo, err := pgchanges.Decode[Todo](c)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c)
	fmt.Printf("%d %q done=%t score=%s tags=%v due=%s\n", todo.ID, todo.Title, todo.Done, todo.Score, todo.Tags, todo.Due.Format(time.RFC3339))
	// Output:
	// INSERT public.todos at 2026-08-21T10:15:30.123Z
	// 9007199254740993 "Buy milk" done=false score=12.50 tags=[a b] due=2026-08-22T09:00:00Z
}

func ExampleParseFilter() {
	conds, err := pgchanges.ParseFilter(`name=eq."a,b",status=not.in.(draft,"to do")`)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range conds {
		fmt.Printf("%s not=%t %s %q\n", c.Column(), c.Negated(), c.Op(), c.Values())
	}
	// Output:
	// name not=false eq ["a,b"]
	// status not=true in ["draft" "to do"]
}

func ExampleChange_Value() {
	c, _ := pgchanges.Parse([]byte(`{"columns":[{"name":"id","type":"int8"},{"name":"price","type":"numeric"},{"name":"blob","type":"bytea"}],"record":{"id":9007199254740993,"price":12.50,"blob":"0102ff"},"type":"INSERT"}`))
	for _, col := range []string{"id", "price", "blob"} {
		v, err := c.Value(col)
		fmt.Printf("%s: %T %v %v\n", col, v, v, err)
	}
	// Output:
	// id: int64 9007199254740993 <nil>
	// price: pgchanges.Numeric 12.50 <nil>
	// blob: []uint8 [1 2 255] <nil>
}
