package pgtest

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// fatalTB records Fatalf instead of ending the test: a fake for the one
// path a real test cannot take without failing (a bad EnvStore value).
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper()                           {}
func (f *fatalTB) Fatalf(format string, args ...any) { f.msg = fmt.Sprintf(format, args...) }

func TestBackend(t *testing.T) {
	for v, want := range map[string]string{"": BackendSQLite, "sqlite": BackendSQLite, "postgres": BackendPostgres} {
		t.Setenv(EnvStore, v)
		if got := Backend(t); got != want {
			t.Errorf("%s=%q: Backend = %q, want %q", EnvStore, v, got, want)
		}
	}
	t.Setenv(EnvStore, "pg")
	f := &fatalTB{TB: t}
	Backend(f)
	if !strings.Contains(f.msg, `VIRTUMANCER_TEST_STORE="pg"`) || !strings.Contains(f.msg, `"postgres"`) {
		t.Errorf("Backend with %s=pg: message %q, want the bad value and the allowed ones", EnvStore, f.msg)
	}
}

func TestStoreLocationSQLite(t *testing.T) {
	t.Setenv(EnvStore, "")
	p := StoreLocation(t, "x")
	if filepath.Base(p) != "virtumancer.db" || !filepath.IsAbs(p) {
		t.Errorf("StoreLocation = %q, want an absolute path to virtumancer.db in a temp dir", p)
	}
}

// TestIntegrationStoreLocationPostgres: under EnvStore=postgres the
// location is a fresh database on the cluster, one per call.
func TestIntegrationStoreLocationPostgres(t *testing.T) {
	Require(t)
	t.Setenv(EnvStore, BackendPostgres)
	a, b := StoreLocation(t, "loc"), StoreLocation(t, "loc")
	if !strings.HasPrefix(a, "postgres://") || a == b {
		t.Fatalf("StoreLocation = %q then %q, want two different postgres:// URLs", Redact(a), Redact(b))
	}
	conn := connect(t, a)
	closeConn(t, conn)
}
