package pgtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:s3cret@h:5432/db?sslmode=disable": "postgres://u:xxxxx@h:5432/db?sslmode=disable",
		"postgres://u@h/db?password=s3cret":             "postgres://u@h/db?password=xxxxx",
		"host=h user=u password=s3cret dbname=d":        "host=h user=u password=xxxxx dbname=d",
		"host=h password='s3 cret' dbname=d":            "host=h password=xxxxx dbname=d",
		DefaultURL:                                      DefaultURL,
	} {
		if got := Redact(in); got != want || strings.Contains(got, "s3") {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWithDatabase(t *testing.T) {
	got, err := WithDatabase("postgres://u:pw@127.0.0.1:1/postgres?sslmode=disable", "store_1a2b")
	if err != nil || got != "postgres://u:pw@127.0.0.1:1/store_1a2b?sslmode=disable" {
		t.Fatalf("WithDatabase = %q, %v", got, err)
	}
	if _, err := WithDatabase("host=h password=pw", "x"); err == nil || strings.Contains(err.Error(), "pw") {
		t.Fatalf("key=value string: err = %v; want a refusal without the password", err)
	}
}

func TestDBName(t *testing.T) {
	a, b := dbName("Store-Contract"), dbName("Store-Contract")
	if a == b || !strings.HasPrefix(a, "store_contract_") || len(a) != len("store_contract_")+8 {
		t.Fatalf("dbName = %q, %q; want distinct store_contract_<8 hex>", a, b)
	}
}

// TestIntegrationNewDatabase: the database exists and is empty during the
// test, takes writes, and is gone (with a connection still open on it)
// after the test's cleanup.
func TestIntegrationNewDatabase(t *testing.T) {
	Require(t)
	var name string
	t.Run("inner", func(t *testing.T) {
		u := NewDatabase(t, "pgtest")
		conn := connect(t, u)
		// Left open on purpose: the drop must force it off.
		if err := conn.QueryRow(context.Background(), "SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(name, "pgtest_") {
			t.Fatalf("current_database() = %q", name)
		}
		var n int
		err := conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&n)
		if err != nil || n != 0 {
			t.Fatalf("fresh database has %d tables (%v)", n, err)
		}
		if _, err := conn.Exec(context.Background(), "CREATE TABLE t (id int)"); err != nil {
			t.Fatal(err)
		}
	})
	conn := connect(t, AdminURL())
	defer closeConn(t, conn)
	var left int
	err := conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&left)
	if err != nil || left != 0 {
		t.Fatalf("database %s still there after cleanup (%d, %v)", name, left, err)
	}
}

// TestIntegrationStartCluster: a private cluster takes a write, keeps it
// through Restart and through Stop/Start, refuses connections while
// stopped, and is gone (server and directory) after the test.
func TestIntegrationStartCluster(t *testing.T) {
	var dir string
	var port int
	t.Run("inner", func(t *testing.T) {
		c := StartCluster(t)
		dir, port = c.dir, c.Port()
		conn := connect(t, c.URL())
		if _, err := conn.Exec(context.Background(), "CREATE TABLE t (id int); INSERT INTO t VALUES (7)"); err != nil {
			t.Fatal(err)
		}
		closeConn(t, conn)
		c.Restart()
		c.Stop()
		if _, err := pgx.Connect(context.Background(), c.URL()); err == nil {
			t.Fatal("connected to a stopped cluster")
		}
		c.Start()
		conn = connect(t, c.URL())
		defer closeConn(t, conn)
		var n int
		if err := conn.QueryRow(context.Background(), "SELECT id FROM t").Scan(&n); err != nil || n != 7 {
			t.Fatalf("after restart and stop/start: id = %d, %v; want 7", n, err)
		}
	})
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("cluster directory %s still there after the test (%v)", dir, err)
	}
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
		_ = c.Close()
		t.Errorf("127.0.0.1:%d still answers after the test", port)
	}
}
