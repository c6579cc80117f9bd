// The pgx step of the client matrix (tests/integration/postgres-clients.test.ts): one session through
// the gateway over TLS, every step a CI job's Go program would take, one JSON result on stdout.
package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

const typesSQL = `SELECT $1::int4, $2::int8, $3::numeric, $4::text, $5::bytea, $6::timestamptz, $7::uuid, $8::jsonb, $9::int4[], $10::text[]`

type row struct {
	Int         int32          `json:"int"`
	Bigint      string         `json:"bigint"`
	Numeric     string         `json:"numeric"`
	Text        string         `json:"text"`
	Bytea       string         `json:"bytea"`
	Timestamptz string         `json:"timestamptz"`
	UUID        string         `json:"uuid"`
	Jsonb       map[string]any `json:"jsonb"`
	IntArray    []int32        `json:"intArray"`
	TextArray   []string       `json:"textArray"`
}

func must(err error, step string) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", step, err)
		os.Exit(1)
	}
}

func sqlstate(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	if err == nil {
		return ""
	}
	return "not a server error: " + err.Error()
}

func roundTrip(ctx context.Context, conn *pgx.Conn, mode pgx.QueryExecMode) row {
	ts := time.Date(2024, 2, 29, 12, 34, 56, 789000000, time.UTC)
	var r row
	var big int64
	var num pgtype.Numeric
	var bytea []byte
	var when time.Time
	var uuid pgtype.UUID
	var doc any = map[string]any{"a": []any{1, 2, map[string]any{"b": nil}}, "c": "d"}
	if mode == pgx.QueryExecModeSimpleProtocol {
		doc = `{"a": [1, 2, {"b": null}], "c": "d"}` // the simple protocol has no type to encode a map for
	}
	err := conn.QueryRow(ctx, typesSQL, mode,
		int32(2147483647), int64(9223372036854775807), "12345678901234567890.123456789", "héllo wörld ✓",
		[]byte{0xde, 0xad, 0xbe, 0xef, 0x00}, ts, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
		doc, []int32{1, 2, 3}, []string{"a", "b c", "d,e"},
	).Scan(&r.Int, &big, &num, &r.Text, &bytea, &when, &uuid, &r.Jsonb, &r.IntArray, &r.TextArray)
	must(err, "types")
	r.Bigint = fmt.Sprint(big)
	numText, err := num.Value()
	must(err, "numeric")
	r.Numeric = numText.(string)
	r.Bytea = hex.EncodeToString(bytea)
	r.Timestamptz = when.UTC().Format("2006-01-02T15:04:05.000Z")
	u := uuid.Bytes
	r.UUID = fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
	return r
}

func main() {
	ctx := context.Background()
	dsn := os.Getenv("TG_CLIENT_DSN")
	conn, err := pgx.Connect(ctx, dsn)
	must(err, "connect")
	defer conn.Close(ctx)
	watcher, err := pgx.Connect(ctx, dsn)
	must(err, "connect watcher")
	defer watcher.Close(ctx)
	out := map[string]any{"client": "pgx"}

	var pid int32
	must(conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid), "pid")
	out["pid"] = pid
	_, err = conn.Exec(ctx, "SET application_name = 'pgx-matrix'")
	must(err, "set application_name")
	var app string
	must(conn.QueryRow(ctx, "SELECT current_setting('application_name')").Scan(&app), "application_name")
	out["applicationName"] = app
	_, err = conn.Exec(ctx, "CREATE TEMP TABLE items (id int PRIMARY KEY, name text)")
	must(err, "create")

	out["types"] = map[string]row{
		"binary": roundTrip(ctx, conn, pgx.QueryExecModeCacheStatement),
		"text":   roundTrip(ctx, conn, pgx.QueryExecModeSimpleProtocol),
	}

	_, err = conn.Prepare(ctx, "double", "SELECT $1::int * 2")
	must(err, "prepare")
	prepared := []int{}
	for i := 1; i <= 3; i++ {
		var v int
		must(conn.QueryRow(ctx, "double", i).Scan(&v), "execute prepared")
		prepared = append(prepared, v)
	}
	out["prepared"] = prepared

	tx, err := conn.Begin(ctx)
	must(err, "begin")
	_, err = tx.Exec(ctx, "INSERT INTO items VALUES (1, 'lost')")
	must(err, "insert in transaction")
	_, failed := tx.Exec(ctx, "SELECT 1/0")
	_, aborted := tx.Exec(ctx, "SELECT 1")
	must(tx.Rollback(ctx), "rollback")
	var left, recovered int
	must(conn.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&left), "count after rollback")
	must(conn.QueryRow(ctx, "SELECT 1").Scan(&recovered), "recovered")
	out["failedTransaction"] = map[string]any{"error": sqlstate(failed), "aborted": sqlstate(aborted), "rowsAfterRollback": left, "recovered": recovered}

	batch := &pgx.Batch{}
	for i := 1; i <= 100; i++ {
		batch.Queue("INSERT INTO items VALUES ($1, $2)", i, fmt.Sprintf("batch-%d", i))
	}
	batch.Queue("SELECT count(*) FROM items")
	results := conn.SendBatch(ctx, batch)
	for i := 0; i < 100; i++ {
		_, err := results.Exec()
		must(err, "batch insert")
	}
	var batched int
	must(results.QueryRow().Scan(&batched), "batch count")
	must(results.Close(), "batch close")
	out["batch"] = map[string]any{"mode": "pgx.Batch", "rows": batched}

	rows := [][]any{}
	for i := 1001; i <= 2000; i++ {
		rows = append(rows, []any{i, fmt.Sprintf("copied-%d", i)})
	}
	copiedIn, err := conn.CopyFrom(ctx, pgx.Identifier{"items"}, []string{"id", "name"}, pgx.CopyFromRows(rows))
	must(err, "copy in")
	var buf bytes.Buffer
	_, err = conn.PgConn().CopyTo(ctx, &buf, "COPY (SELECT id, name FROM items WHERE id > 1000 ORDER BY id) TO STDOUT")
	must(err, "copy out")
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	out["copy"] = map[string]any{"in": copiedIn, "out": len(lines), "firstOut": lines[0], "lastOut": lines[len(lines)-1]}

	large, err := conn.Query(ctx, "SELECT g, md5(g::text) FROM generate_series(1, 100000) g")
	must(err, "large")
	var count, sum int64
	for large.Next() {
		var g int64
		var h string
		must(large.Scan(&g, &h), "large row")
		count++
		sum += g
	}
	must(large.Err(), "large result")
	out["large"] = map[string]any{"rows": count, "sum": sum}

	done := make(chan error, 1)
	go func() {
		_, err := conn.Exec(ctx, "SELECT pg_sleep(30)")
		done <- err
	}()
	sleeping := false
	for i := 0; i < 1000 && !sleeping; i++ {
		must(watcher.QueryRow(ctx, "SELECT count(*) = 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event = 'PgSleep'", pid).Scan(&sleeping), "watch")
		if !sleeping {
			time.Sleep(10 * time.Millisecond)
		}
	}
	cancelErr := conn.PgConn().CancelRequest(ctx)
	slept := <-done
	var after int
	must(conn.QueryRow(ctx, "SELECT 1").Scan(&after), "after cancel")
	out["cancel"] = map[string]any{"sawSleep": sleeping, "requestOk": cancelErr == nil, "sqlstate": sqlstate(slept), "after": after}

	must(json.NewEncoder(os.Stdout).Encode(out), "print")
}
