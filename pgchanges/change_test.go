package pgchanges_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/go-supabase/realtime/pgchanges"
)

// The frames of PROTOCOL 7.3: columns and records in jsonb text formatting, outer keys sorted.
const (
	insertData = `{"columns":[{"name": "id", "type": "int8"}, {"name": "done", "type": "bool"}, {"name": "meta", "type": "jsonb"}, {"name": "tags", "type": "_text"}, {"name": "title", "type": "text"}, {"name": "due", "type": "timestamptz"}],"commit_timestamp":"2026-08-21T10:15:30.123Z","errors":null,"record":{"id": 42, "due": "2026-08-22T09:00:00+00:00", "done": false, "meta": {"p": 1}, "tags": ["a", "b"], "title": "Buy milk"},"schema":"public","table":"todos","type":"INSERT"}`
	updateData = `{"columns":[{"name": "id", "type": "int8"}, {"name": "done", "type": "bool"}],"commit_timestamp":"2026-08-21T10:15:31.000Z","errors":null,"old_record":{"id": 42},"record":{"id": 42, "done": true},"schema":"public","table":"todos","type":"UPDATE"}`
	deleteData = `{"columns":[{"name": "id", "type": "int8"}, {"name": "done", "type": "bool"}],"commit_timestamp":"2026-08-21T10:15:32.5Z","errors":null,"old_record":{"id": 42},"schema":"public","table":"todos","type":"DELETE"}`
)

var (
	todoColumns = []pgchanges.Column{
		{Name: "id", Type: "int8"}, {Name: "done", Type: "bool"}, {Name: "meta", Type: "jsonb"},
		{Name: "tags", Type: "_text"}, {Name: "title", Type: "text"}, {Name: "due", Type: "timestamptz"},
	}
	idDone = []pgchanges.Column{{Name: "id", Type: "int8"}, {Name: "done", Type: "bool"}}
)

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		data string
		want pgchanges.Change
	}{
		{"insert", insertData, pgchanges.Change{
			Type: pgchanges.Insert, Schema: "public", Table: "todos",
			CommitTimestamp: ts("2026-08-21T10:15:30.123Z"), Columns: todoColumns,
			Record: pgchanges.Record(`{"id": 42, "due": "2026-08-22T09:00:00+00:00", "done": false, "meta": {"p": 1}, "tags": ["a", "b"], "title": "Buy milk"}`),
		}},
		{"update", updateData, pgchanges.Change{
			Type: pgchanges.Update, Schema: "public", Table: "todos",
			CommitTimestamp: ts("2026-08-21T10:15:31Z"), Columns: idDone,
			Record: pgchanges.Record(`{"id": 42, "done": true}`), OldRecord: pgchanges.Record(`{"id": 42}`),
		}},
		{"delete has only old_record", deleteData, pgchanges.Change{
			Type: pgchanges.Delete, Schema: "public", Table: "todos",
			CommitTimestamp: ts("2026-08-21T10:15:32.5Z"), Columns: idDone,
			OldRecord: pgchanges.Record(`{"id": 42}`),
		}},
		{"no primary key", `{"columns":[],"commit_timestamp":null,"errors":["Error 400: Bad Request, no primary key"],"old_record":{},"record":{},"schema":"public","table":"nopk","type":"INSERT"}`,
			pgchanges.Change{Type: pgchanges.Insert, Schema: "public", Table: "nopk", Errors: []string{"Error 400: Bad Request, no primary key"}}},
		{"unauthorized", `{"columns":[],"commit_timestamp":null,"errors":["Error 401: Unauthorized"],"record":{},"schema":"public","table":"secret","type":"UPDATE"}`,
			pgchanges.Change{Type: pgchanges.Update, Schema: "public", Table: "secret", Errors: []string{"Error 401: Unauthorized"}}},
		{"too large", `{"columns":[{"name":"id","type":"int4"}],"commit_timestamp":"2026-08-21T10:15:30.123Z","errors":["Error 413: Payload Too Large"],"record":{"id":1},"schema":"public","table":"big","type":"INSERT"}`,
			pgchanges.Change{Type: pgchanges.Insert, Schema: "public", Table: "big", CommitTimestamp: ts("2026-08-21T10:15:30.123Z"),
				Columns: []pgchanges.Column{{Name: "id", Type: "int4"}}, Record: pgchanges.Record(`{"id":1}`), Errors: []string{"Error 413: Payload Too Large"}}},
		{"second precision", `{"commit_timestamp":"2026-08-21T10:15:38Z","record":{"id":1},"schema":"public","table":"t","type":"INSERT"}`,
			pgchanges.Change{Type: pgchanges.Insert, Schema: "public", Table: "t", CommitTimestamp: ts("2026-08-21T10:15:38Z"), Record: pgchanges.Record(`{"id":1}`)}},
		{"offset timestamp", `{"commit_timestamp":"2026-08-21T12:15:38.5+02:00","type":"DELETE"}`,
			pgchanges.Change{Type: pgchanges.Delete, CommitTimestamp: ts("2026-08-21T10:15:38.5Z")}},
		{"null record", `{"record":null,"old_record":null,"type":"INSERT","columns":null,"schema":null}`,
			pgchanges.Change{Type: pgchanges.Insert}},
		{"white space and unknown keys", " {\n \"type\" : \"INSERT\" , \"extra\" : [1, {\"a\": null}, \"x\"], \"record\" : { } } \n",
			pgchanges.Change{Type: pgchanges.Insert}},
		{"escaped keys and strings", `{"t\u0079pe":"INSERT","schema":"pub\"lic","table":"caf\u00e9","columns":[{"name":"a\nb","type":"text","extra":1}]}`,
			pgchanges.Change{Type: pgchanges.Insert, Schema: `pub"lic`, Table: "café", Columns: []pgchanges.Column{{Name: "a\nb", Type: "text"}}}},
		{"other type kept", `{"type":"TRUNCATE"}`, pgchanges.Change{Type: "TRUNCATE"}},
		{"single error string", `{"type":"INSERT","errors":"Error 401: Unauthorized"}`,
			pgchanges.Change{Type: pgchanges.Insert, Errors: []string{"Error 401: Unauthorized"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := pgchanges.Parse([]byte(tt.data))
			if err != nil {
				t.Fatalf("Parse = %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
			var p pgchanges.Parser
			for range 2 { // a miss, then a hit of the caches
				got, err = p.Parse([]byte(tt.data))
				if err != nil {
					t.Fatalf("Parser.Parse = %v", err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("Parser.Parse (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestParseMalformed(t *testing.T) {
	t.Parallel()
	for _, data := range []string{
		``, ` `, `null`, `[]`, `"x"`, `{}`, `{`, `{"type":"INSERT"`, `{"type":"INSERT"}x`, `{"type":"INSERT"}{}`,
		`{"type":"INSERT",}`, `{"type":"INSERT" "schema":"s"}`, `{"type" "INSERT"}`, `{type:"INSERT"}`,
		`{"type":null}`, `{"type":1}`, `{"schema":"public"}`,
		`{"type":"INSERT","schema":1}`, `{"type":"INSERT","table":{}}`,
		`{"type":"INSERT","record":[]}`, `{"type":"INSERT","record":"x"}`, `{"type":"INSERT","record":{"a":}}`,
		`{"type":"INSERT","record":{"a":1,}}`, `{"type":"INSERT","record":{"a":01}}`, `{"type":"INSERT","record":{"a":1.}}`,
		`{"type":"INSERT","record":{"a":-}}`, `{"type":"INSERT","record":{"a":1e}}`, `{"type":"INSERT","record":{"a":tru}}`,
		`{"type":"INSERT","record":{"a":"\x"}}`, `{"type":"INSERT","record":{"a":"\u12"}}`, "{\"type\":\"INSERT\",\"record\":{\"a\":\"\x01\"}}",
		`{"type":"INSERT","old_record":{"a":[1,2}}`, `{"type":"INSERT","extra":[1,]}`, `{"type":"INSERT","extra":nul}`,
		`{"type":"INSERT","columns":{}}`, `{"type":"INSERT","columns":[1]}`, `{"type":"INSERT","columns":[{"name":1}]}`,
		`{"type":"INSERT","columns":[{"name":"a","type":null}]}`, `{"type":"INSERT","columns":[{"name":"a"},]}`,
		`{"type":"INSERT","errors":[1]}`, `{"type":"INSERT","errors":{}}`,
		`{"type":"INSERT","commit_timestamp":"yesterday"}`, `{"type":"INSERT","commit_timestamp":"2026-02-30T00:00:00Z"}`,
		`{"type":"INSERT","commit_timestamp":"2026-08-21T25:00:00Z"}`, `{"type":"INSERT","commit_timestamp":1}`,
		`{"type":"INSERT","record":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`,
	} {
		_, err := pgchanges.Parse([]byte(data))
		if !errors.Is(err, pgchanges.ErrMalformed) {
			t.Errorf("Parse(%.80s) = %v; want ErrMalformed", data, err)
		}
		var p pgchanges.Parser
		if _, err := p.Parse([]byte(data)); !errors.Is(err, pgchanges.ErrMalformed) {
			t.Errorf("Parser.Parse(%.80s) = %v; want ErrMalformed", data, err)
		}
	}
}

func TestParsePayload(t *testing.T) {
	t.Parallel()
	payload := `{"data":` + deleteData + `,"ids":[31186290, "96213457"]}`
	want := pgchanges.Change{
		Type: pgchanges.Delete, Schema: "public", Table: "todos",
		CommitTimestamp: ts("2026-08-21T10:15:32.5Z"), Columns: idDone,
		OldRecord: pgchanges.Record(`{"id": 42}`),
	}
	for _, parse := range []func([]byte) (pgchanges.Change, []int64, error){pgchanges.ParsePayload, new(pgchanges.Parser).ParsePayload} {
		got, ids, err := parse([]byte(payload))
		if err != nil {
			t.Fatalf("ParsePayload = %v", err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ParsePayload change (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]int64{31186290, 96213457}, ids); diff != "" {
			t.Errorf("ParsePayload ids (-want +got):\n%s", diff)
		}
	}
	for _, bad := range []string{`{}`, `{"ids":[1]}`, `{"data":{"type":"INSERT"},"ids":[1.5]}`, `{"data":{"type":"INSERT"},"ids":{}}`, `[]`, `{"data":{}}`} {
		if _, _, err := pgchanges.ParsePayload([]byte(bad)); !errors.Is(err, pgchanges.ErrMalformed) {
			t.Errorf("ParsePayload(%s) = %v; want ErrMalformed", bad, err)
		}
	}
}

func TestParserSharesColumns(t *testing.T) {
	t.Parallel()
	var p pgchanges.Parser
	a, err := p.Parse([]byte(updateData))
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Parse([]byte(deleteData))
	if err != nil {
		t.Fatal(err)
	}
	if &a.Columns[0] != &b.Columns[0] {
		t.Errorf("Parser.Parse did not share the columns of identical lists")
	}
	c, _ := p.Parse([]byte(insertData))
	if &a.Columns[0] == &c.Columns[0] {
		t.Errorf("Parser.Parse shared the columns of different lists")
	}
	// A known list followed by garbage is still rejected, and the parser goes on working.
	cols := updateData[len(`{"columns":`):strings.Index(updateData, `,"commit_timestamp"`)]
	for _, bad := range []string{`{"columns":` + cols + `x}`, `{"columns":` + cols + `,"type":"INSERT"`, `{"columns":` + cols[:len(cols)-1] + `}`} {
		if _, err := p.Parse([]byte(bad)); !errors.Is(err, pgchanges.ErrMalformed) {
			t.Errorf("Parser.Parse(%s) = %v; want ErrMalformed", bad, err)
		}
	}
	if d, err := p.Parse([]byte(deleteData)); err != nil || &d.Columns[0] != &a.Columns[0] {
		t.Errorf("Parser.Parse after errors = %v, shared %v", err, err == nil && &d.Columns[0] == &a.Columns[0])
	}
	// Many distinct tables: the caches start over instead of growing without bound.
	for i := range 3000 {
		data := fmt.Sprintf(`{"columns":[{"name":"c%d","type":"int4"}],"schema":"s%d","table":"t%d","type":"INSERT"}`, i, i, i)
		ch, err := p.Parse([]byte(data))
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("c%d", i); ch.Columns[0].Name != want || ch.Table != fmt.Sprintf("t%d", i) {
			t.Fatalf("Parse(%s) = %+v", data, ch)
		}
	}
}

func TestParseAliasesInput(t *testing.T) {
	t.Parallel()
	data := []byte(updateData)
	c, err := pgchanges.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	// Appending to a record must not write into the input.
	_ = append(c.Record, '!')
	if string(data) != updateData {
		t.Errorf("appending to Record changed the input")
	}
}

func TestExactValues(t *testing.T) {
	t.Parallel()
	data := `{"columns":[{"name": "id", "type": "int8"}, {"name": "amount", "type": "numeric"}, {"name": "price", "type": "numeric"}],"commit_timestamp":"2026-08-21T10:15:30.123Z","errors":null,"record":{"id": 9007199254740993, "price": 12.50, "amount": 12345678901234567890.123456789},"schema":"public","table":"ledger","type":"INSERT"}`
	c, err := pgchanges.Parse([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.Value("id")
	if err != nil || id != int64(9007199254740993) {
		t.Errorf("Value(id) = %#v, %v; want int64(9007199254740993)", id, err)
	}
	amount, err := c.Value("amount")
	if err != nil || amount != pgchanges.Numeric("12345678901234567890.123456789") {
		t.Errorf("Value(amount) = %#v, %v; want the exact numeric", amount, err)
	}
	price, err := c.Value("price")
	if err != nil || price != pgchanges.Numeric("12.50") {
		t.Errorf("Value(price) = %#v, %v; want 12.50 with its scale", price, err)
	}

	type ledger struct {
		ID        int64             `json:"id"`
		Amount    pgchanges.Numeric `json:"amount"`
		AmountRat *big.Rat          `json:"amount_rat"`
		Price     string            `json:"price"`
	}
	got, err := pgchanges.Decode[ledger](c)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != 9007199254740993 || got.Amount != "12345678901234567890.123456789" || got.Price != "12.50" {
		t.Errorf("Decode = %+v; want exact values", got)
	}
	// The same record decoded into other exact types.
	type ledger2 struct {
		ID     json.Number `json:"id"`
		Amount big.Rat     `json:"amount"`
		IDText string      `json:"-"`
	}
	got2, err := pgchanges.Decode[ledger2](c)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := new(big.Rat).SetString("12345678901234567890.123456789")
	if got2.ID != "9007199254740993" || got2.Amount.Cmp(want) != 0 {
		t.Errorf("Decode = %v, %v; want exact values", got2.ID, got2.Amount.String())
	}
}

func TestChangeValue(t *testing.T) {
	t.Parallel()
	c, err := pgchanges.Parse([]byte(insertData))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		column string
		want   any
	}{
		{"id", int64(42)},
		{"done", false},
		{"meta", map[string]any{"p": json.Number("1")}},
		{"tags", []any{"a", "b"}},
		{"title", "Buy milk"},
		{"due", ts("2026-08-22T09:00:00Z")},
	}
	for _, tt := range tests {
		got, err := c.Value(tt.column)
		if err != nil {
			t.Errorf("Value(%q) = %v", tt.column, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Value(%q) (-want +got):\n%s", tt.column, diff)
		}
	}
	if _, err := c.Value("nope"); !errors.Is(err, pgchanges.ErrNoColumn) {
		t.Errorf("Value(nope) = %v; want ErrNoColumn", err)
	}
	if _, err := c.OldValue("id"); !errors.Is(err, pgchanges.ErrNoColumn) {
		t.Errorf("OldValue(id) of an INSERT = %v; want ErrNoColumn", err)
	}
	all, err := c.Values()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"id": int64(42), "done": false, "meta": map[string]any{"p": json.Number("1")},
		"tags": []any{"a", "b"}, "title": "Buy milk", "due": ts("2026-08-22T09:00:00Z"),
	}
	if diff := cmp.Diff(want, all); diff != "" {
		t.Errorf("Values (-want +got):\n%s", diff)
	}
	old, err := c.OldValues()
	if err != nil || len(old) != 0 || old == nil {
		t.Errorf("OldValues of an INSERT = %#v, %v; want an empty map", old, err)
	}

	d, _ := pgchanges.Parse([]byte(deleteData))
	if v, err := d.OldValue("id"); err != nil || v != int64(42) {
		t.Errorf("OldValue(id) = %#v, %v", v, err)
	}

	// A value that does not fit its type names the column.
	bad, _ := pgchanges.Parse([]byte(`{"columns":[{"name":"n","type":"int4"}],"record":{"n":"x"},"type":"INSERT"}`))
	_, err = bad.Values()
	var ce *pgchanges.ColumnError
	if !errors.As(err, &ce) || ce.Column != "n" || ce.Type != "int4" || !errors.Is(err, pgchanges.ErrMalformed) {
		t.Errorf("Values() = %v; want a *ColumnError for n (int4) wrapping ErrMalformed", err)
	}
	if _, err := bad.Value("n"); !errors.As(err, &ce) {
		t.Errorf("Value(n) = %v; want a *ColumnError", err)
	}
	// A column missing from columns is plain JSON.
	untyped, _ := pgchanges.Parse([]byte(`{"record":{"n":12345678901234567890},"type":"INSERT"}`))
	if v, err := untyped.Value("n"); err != nil || v != json.Number("12345678901234567890") {
		t.Errorf("Value(n) without columns = %#v, %v", v, err)
	}
}

func TestRecord(t *testing.T) {
	t.Parallel()
	r := pgchanges.Record(`{"id": 1, "a\"b": "x", "nested": {"id": 2}, "n": null}`)
	tests := []struct {
		column string
		want   string
		ok     bool
	}{
		{"id", "1", true},
		{`a"b`, `"x"`, true},
		{"nested", `{"id": 2}`, true},
		{"n", "null", true},
		{"missing", "", false},
	}
	for _, tt := range tests {
		got, ok := r.Get(tt.column)
		if ok != tt.ok || string(got) != tt.want {
			t.Errorf("Get(%q) = %s, %v; want %s, %v", tt.column, got, ok, tt.want, tt.ok)
		}
	}
	var m map[string]any
	if err := r.Decode(&m); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]any{"id": json.Number("1"), `a"b`: "x", "nested": map[string]any{"id": json.Number("2")}, "n": nil}, m); diff != "" {
		t.Errorf("Decode (-want +got):\n%s", diff)
	}
	j, err := json.Marshal(struct{ R, Nil pgchanges.Record }{R: pgchanges.Record(`{"a":1}`)})
	if err != nil || string(j) != `{"R":{"a":1},"Nil":null}` {
		t.Errorf("json.Marshal = %s, %v", j, err)
	}
	var back struct{ R, Nil pgchanges.Record }
	if err := json.Unmarshal(j, &back); err != nil || string(back.R) != `{"a":1}` || back.Nil != nil {
		t.Errorf("json.Unmarshal = %+v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"R":[1]}`), &back); err == nil {
		t.Errorf("json.Unmarshal of a non-object record succeeded")
	}
	if _, ok := pgchanges.Record(nil).Get("id"); ok {
		t.Errorf("Get on a nil record found something")
	}
}

func TestChangeString(t *testing.T) {
	t.Parallel()
	c, _ := pgchanges.Parse([]byte(`{"columns":[],"commit_timestamp":null,"errors":["Error 401: Unauthorized"],"record":{},"schema":"public","table":"secret","type":"UPDATE"}`))
	if got, want := c.String(), `UPDATE public.secret errors "Error 401: Unauthorized"`; got != want {
		t.Errorf("String() = %q; want %q", got, want)
	}
	c, _ = pgchanges.Parse([]byte(insertData))
	if got, want := c.String(), "INSERT public.todos at 2026-08-21T10:15:30.123Z"; got != want {
		t.Errorf("String() = %q; want %q", got, want)
	}
}
