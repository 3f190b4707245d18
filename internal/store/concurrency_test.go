package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// noLockErr fails on any error, and says so loudly for "database is locked",
// which must never reach a caller.
func noLockErr(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if strings.Contains(err.Error(), "locked") || strings.Contains(err.Error(), "busy") {
		t.Errorf("%s: lock error reached the caller: %v", what, err)
		return
	}
	t.Errorf("%s: %v", what, err)
}

func TestConcurrentUpsertsOneStore(t *testing.T) {
	s := newStore(t)
	const workers, each = 8, 200
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range each {
				name := fmt.Sprintf("g%d-%03d", w, i)
				_, err := s.UpsertVM(bg, "h", name, cfg(name, uint64(i)))
				noLockErr(t, name, err)
				_, err = s.UpsertVM(bg, "h", "shared", cfg("shared", uint64(w)))
				noLockErr(t, "shared", err)
			}
		}()
		go func() { // readers alongside: WAL must not block them or the writers
			defer wg.Done()
			for range each / 4 {
				_, err := s.ListVMs(bg, "h")
				noLockErr(t, "ListVMs", err)
			}
		}()
	}
	wg.Wait()
	vms, err := s.ListVMs(bg, "h")
	if err != nil || len(vms) != workers*each+1 {
		t.Fatalf("rows = %d, want %d (%v)", len(vms), workers*each+1, err)
	}
	for _, vm := range vms {
		if vm.ConfigErr != nil || vm.Config.Name != vm.Name {
			t.Fatalf("row %+v", vm)
		}
	}
}

const helperEnv = "STORE_TEST_HELPER_DB"

// TestHelperProcess is the second process of TestTwoProcesses; it does
// nothing in a normal run.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		t.Skip("helper for TestTwoProcesses")
	}
	s := openT(t, path, Options{})
	fmt.Println("READY")
	writeMany(t, s, "child")
}

// writeMany is one process's share of TestTwoProcesses: distinct rows, a
// row both processes fight over, and a host both rewrite.
func writeMany(t testing.TB, s *Store, who string) {
	for i := range 300 {
		name := fmt.Sprintf("%s-%03d", who, i)
		_, err := s.UpsertVM(bg, "p", name, cfg(name, 1))
		noLockErr(t, name, err)
		_, err = s.UpsertVM(bg, "p", "shared", cfg(who, uint64(i)))
		noLockErr(t, "shared", err)
		noLockErr(t, "host", s.PutHost(bg, Host{ID: "p", URI: "test:///" + who}))
	}
}

func TestTwoProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a second process")
	}
	path := filepath.Join(t.TempDir(), "virtumancer.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), helperEnv+"="+path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Both processes create and migrate the same new file at once.
	s := openT(t, path, Options{})
	out := bufio.NewScanner(stdout)
	var childOut []string
	for out.Scan() {
		childOut = append(childOut, out.Text())
		if out.Text() == "READY" {
			break
		}
	}
	done := make(chan struct{})
	go func() { // keep draining so the child never blocks on a full pipe
		for out.Scan() {
			childOut = append(childOut, out.Text())
		}
		close(done)
	}()
	writeMany(t, s, "parent")
	<-done
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v\n%s\n%s", err, strings.Join(childOut, "\n"), stderr.String())
	}
	if !strings.Contains(strings.Join(childOut, "\n"), "--- PASS: TestHelperProcess") {
		t.Fatalf("child did not run:\n%s", strings.Join(childOut, "\n"))
	}
	for _, who := range []string{"parent", "child"} {
		n := rawText(t, path, "SELECT count(*) FROM virtual_machines WHERE name LIKE '"+who+"-%' AND deleted_at IS NULL")
		if n != "300" {
			t.Errorf("%s rows = %s, want 300", who, n)
		}
	}
	if n := rawText(t, path, "SELECT count(*) FROM virtual_machines"); n != "601" {
		t.Errorf("total rows = %s, want 601", n)
	}
	if n := rawText(t, path, "SELECT count(*) FROM vmsync_migrations"); n != strconv.Itoa(len(migrations)) {
		t.Errorf("migrations applied %s times", n)
	}
}

// holdWriteLock takes the write lock from another connection (as another
// program would) and keeps it for d. It returns when the lock is held.
func holdWriteLock(t *testing.T, path string, d time.Duration) <-chan struct{} {
	t.Helper()
	conn, err := sqlite.OpenConn(path, sqlite.OpenReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlitex.ExecuteTransient(conn, "BEGIN IMMEDIATE", nil); err != nil {
		t.Fatal(err)
	}
	if err := sqlitex.ExecuteTransient(conn, "INSERT INTO hosts (id, uri) VALUES ('holder', 'x')", nil); err != nil {
		t.Fatal(err)
	}
	released := make(chan struct{})
	go func() {
		defer close(released)
		time.Sleep(d)
		if err := sqlitex.ExecuteTransient(conn, "COMMIT", nil); err != nil {
			t.Error(err)
		}
		conn.Close()
	}()
	return released
}

func TestWriterWaitsOutHeldLock(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"busy timeout", Options{}},                               // one long wait
		{"retries", Options{BusyTimeout: 250 * time.Millisecond}}, // several waits plus backoff
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openT(t, filepath.Join(t.TempDir(), "v.db"), tc.opts)
			released := holdWriteLock(t, s.Path(), 2*time.Second)
			start := time.Now()
			vm, err := s.UpsertVM(bg, "h", "waiter", cfg("waiter", 1))
			noLockErr(t, "UpsertVM", err)
			if waited := time.Since(start); waited < 1500*time.Millisecond {
				t.Fatalf("UpsertVM returned after %v while the lock was held", waited)
			}
			<-released
			if vm.ID == 0 {
				t.Fatal("no row")
			}
			if _, err := s.GetHost(bg, "holder"); err != nil {
				t.Fatalf("holder's write lost: %v", err)
			}
		})
	}
}

// A held lock must not pin a cancelled caller for the whole busy timeout.
func TestCancelWhileWaitingForLock(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "v.db"), Options{BusyTimeout: 10 * time.Second})
	released := holdWriteLock(t, s.Path(), 2*time.Second)
	defer func() { <-released }()
	ctx, cancel := context.WithTimeout(bg, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.UpsertVM(ctx, "h", "x", cfg("x", 1))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), s.Path()) {
		t.Fatalf("err = %v", err)
	}
	if waited := time.Since(start); waited > time.Second {
		t.Fatalf("cancel took %v", waited)
	}
	t.Log(err)
}

// When the lock never frees, the caller gets ErrBusy with advice, not a
// bare "database is locked".
func TestBusyGivesUp(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "v.db"), Options{BusyTimeout: 50 * time.Millisecond, MaxRetries: 2})
	released := holdWriteLock(t, s.Path(), 2*time.Second)
	defer func() { <-released }()
	err := s.PutHost(bg, Host{ID: "x"})
	if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), s.Path()) || !strings.Contains(err.Error(), "3 attempts") {
		t.Fatalf("err = %v", err)
	}
	t.Log(err)
}

// BenchmarkUpsert10k upserts 10,000 VM rows per iteration, 500 per Write,
// into a fresh host each time (so every upsert is an insert).
func BenchmarkUpsert10k(b *testing.B) {
	s := openT(b, filepath.Join(b.TempDir(), "bench.db"), Options{})
	const rows, batch = 10000, 500
	b.ResetTimer()
	for iter := 0; iter < b.N; iter++ {
		host := fmt.Sprintf("bench-%d", iter)
		for start := 0; start < rows; start += batch {
			err := s.Write(bg, func(tx *Tx) error {
				for i := start; i < start+batch; i++ {
					name := "vm-" + strconv.Itoa(i)
					if _, err := tx.UpsertVM(host, name, cfg(name, uint64(i))); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}
