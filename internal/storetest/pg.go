package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
)

// The PostgreSQL side of Snapshot, Exec and Text: a store location that is
// a postgres:// URL (VIRTUMANCER_TEST_STORE=postgres) is read and written
// over a connection of its own, with the same SQL (? placeholders become
// $n) so the tests stay backend-neutral.

func pgConnect(t testing.TB, u string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(Ctx(t), u)
	if err != nil {
		t.Fatalf("connect to %s: %v", store.RedactURL(u), err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// pgSnapshot is Snapshot on PostgreSQL: the same rows in the same order,
// times in UTC at the microsecond.
func pgSnapshot(t testing.TB, u string) string {
	t.Helper()
	conn := pgConnect(t, u)
	var b strings.Builder
	for _, q := range snapshotQueries {
		rows, err := conn.Query(Ctx(t), q)
		if err == nil {
			err = writeRows(&b, rows)
		}
		if err != nil && !undefinedTable(err) {
			t.Fatalf("snapshot of %s: %s: %v", store.RedactURL(u), q, err)
		}
	}
	return b.String()
}

func writeRows(b *strings.Builder, rows pgx.Rows) error {
	defer rows.Close()
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return err
		}
		for i, v := range vals {
			if i > 0 {
				b.WriteString(" | ")
			}
			b.WriteString(pgText(v))
		}
		b.WriteString("\n")
	}
	return rows.Err()
}

func pgText(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case time.Time:
		return x.UTC().Format("2006-01-02 15:04:05.999999Z07:00")
	case []byte:
		return string(x)
	default:
		return fmt.Sprint(x)
	}
}

// undefinedTable: the store has not been created (migrated) yet, as SQLite's
// "no such table".
func undefinedTable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "42P01"
}

func pgExec(t testing.TB, u, query string, args ...any) {
	t.Helper()
	if _, err := pgConnect(t, u).Exec(Ctx(t), dollarParams(query), args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func pgText1(t testing.TB, u, query string, args ...any) string {
	t.Helper()
	rows, err := pgConnect(t, u).Query(Ctx(t), dollarParams(query), args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	out := ""
	if rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		out = pgText(vals[0])
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return out
}

// dollarParams turns SQLite's ? placeholders into PostgreSQL's $1, $2, …,
// leaving question marks inside quoted strings alone.
func dollarParams(q string) string {
	var b strings.Builder
	n, quote := 0, rune(0)
	for _, r := range q {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"':
			quote = r
		case r == '?':
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
