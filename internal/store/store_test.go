package store

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestOpenFixtureReads(t *testing.T) {
	s := openT(t, copyFixture(t), Options{})
	hosts, err := s.ListHosts(bg)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Host{{ID: "local", URI: "qemu:///system"}}; !slices.Equal(hosts, want) {
		t.Fatalf("hosts = %v, want %v", hosts, want)
	}
	vms, err := s.ListVMs(bg, "local")
	if err != nil {
		t.Fatal(err)
	}
	if len(vms) != 2 || vms[0].Name != "alpha" || vms[1].Name != "beta" {
		t.Fatalf("vms = %+v", vms)
	}
	beta := vms[1]
	if beta.ConfigErr != nil || beta.TimeErr != nil {
		t.Fatalf("beta errors: %v / %v", beta.ConfigErr, beta.TimeErr)
	}
	if beta.ID != 2 || beta.Config.ID != 3 || beta.Config.State != 1 || beta.Config.Memory != 65536 || !beta.Config.Graphics.VNC {
		t.Fatalf("beta = %+v", beta)
	}
	if got := beta.CreatedAt.Format(TimeFormat); got != "2026-11-26 23:04:59.441198107+00:00" {
		t.Fatalf("beta created_at = %s", got)
	}
	if beta.DeletedAt != nil {
		t.Fatal("beta is live")
	}
	if !strings.HasPrefix(beta.ConfigJSON, `{"id":3,"name":"beta"`) {
		t.Fatalf("raw config_json not kept: %s", beta.ConfigJSON)
	}
	if _, err := s.GetHost(bg, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetHost(nope) = %v", err)
	}
}

// Writing through the store must leave Virtumancer's schema byte-identical.
func TestFixtureSchemaUnchangedAfterWrites(t *testing.T) {
	want := virtumancerSchemaText(t, copyFixture(t))
	path := copyFixture(t)
	s := openT(t, path, Options{})
	if err := s.PutHost(bg, Host{ID: "h2", URI: "test:///default"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpsertVM(bg, "local", "gamma", cfg("gamma", 1024)); err != nil {
		t.Fatal(err)
	}
	if err := s.SoftDeleteVM(bg, "local", "alpha"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := virtumancerSchemaText(t, path); got != want {
		t.Fatalf("schema changed:\n--- got\n%s\n--- want\n%s", got, want)
	}
	if !strings.Contains(want, "CREATE TABLE `hosts`") {
		t.Fatalf("fixture schema looks wrong: %s", want)
	}
}

// A new file gets GORM's exact DDL, mode 0600, and WAL.
func TestNewFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "virtumancer.db")
	s := openT(t, path, Options{})
	if got, want := virtumancerSchemaText(t, path), virtumancerSchemaText(t, copyFixture(t)); got != want {
		t.Fatalf("new file schema:\n%s\nwant:\n%s", got, want)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %v, want 0600", fi.Mode().Perm())
	}
	if _, err := s.UpsertVM(bg, "h", "vm", cfg("vm", 1)); err != nil {
		t.Fatal(err)
	}
	for _, side := range []string{"-wal", "-shm"} {
		if fi, err := os.Stat(path + side); err == nil && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %v, want 0600", side, fi.Mode().Perm())
		}
	}
	if mode := rawText(t, path, "PRAGMA journal_mode"); mode != "wal" {
		t.Fatalf("journal_mode = %q", mode)
	}
	if s.Path() != path {
		t.Fatalf("Path() = %q", s.Path())
	}
}

// An existing file keeps the mode its owner gave it.
func TestExistingFileModeKept(t *testing.T) {
	path := copyFixture(t)
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	openT(t, path, Options{})
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode = %v; Open must not change an existing file", fi.Mode().Perm())
	}
}

func TestOpenMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "no", "such")
	path := filepath.Join(dir, "virtumancer.db")
	_, err := Open(path, Options{})
	if err == nil {
		t.Fatal("Open succeeded")
	}
	for _, want := range []string{path, "does not exist", "mkdir -p " + dir} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatal("Open created the directory")
	}
}

func TestOpenDirectoryAsPath(t *testing.T) {
	dir := t.TempDir()
	_, err := Open(dir, Options{})
	if err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("err = %v", err)
	}
	if _, err := Open("", Options{}); err == nil {
		t.Fatal("empty path accepted")
	}
}

func TestMigrationsIdempotentAndRecorded(t *testing.T) {
	path := copyFixture(t)
	for i := 0; i < 3; i++ {
		s, err := Open(path, Options{})
		if err != nil {
			t.Fatalf("open #%d: %v", i, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	got := rawText(t, path, "SELECT group_concat(version || ':' || name, ',') FROM vmsync_migrations ORDER BY version")
	var want []string
	for _, m := range migrations {
		want = append(want, strings.Join([]string{strconv.Itoa(m.version), m.name}, ":"))
	}
	if got != strings.Join(want, ",") {
		t.Fatalf("vmsync_migrations = %q, want %q", got, strings.Join(want, ","))
	}
	if n := rawText(t, path, "SELECT count(*) FROM vmsync_migrations WHERE applied_at LIKE '____-__-__ __:__:__%+00:00'"); n != strconv.Itoa(len(migrations)) {
		t.Fatalf("applied_at not in GORM format: %s rows match", n)
	}
}

// Versions are 1..n in order: migrations are only ever appended.
func TestMigrationsAppendOnly(t *testing.T) {
	for i, m := range migrations {
		if m.version != i+1 || m.name == "" || len(m.stmts) == 0 {
			t.Fatalf("migration %d = %+v; versions must be 1..n, named, non-empty", i, m)
		}
	}
	// A file whose history disagrees with this build is refused, not guessed at.
	path := copyFixture(t)
	openT(t, path, Options{}).Close()
	rawExec(t, path, "UPDATE vmsync_migrations SET name = 'something else' WHERE version = 1")
	_, err := Open(path, Options{})
	if err == nil || !strings.Contains(err.Error(), "incompatible build") {
		t.Fatalf("err = %v", err)
	}
	// A file migrated by a newer build (unknown version) still opens.
	rawExec(t, path, "UPDATE vmsync_migrations SET name = ? WHERE version = 1", migrations[0].name)
	rawExec(t, path, "INSERT INTO vmsync_migrations VALUES (999, 'from the future', '2030-01-01 00:00:00+00:00')")
	openT(t, path, Options{})
}

func TestOpenRefusesForeignVirtualMachinesTable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	rawCreate(t, path, "CREATE TABLE virtual_machines (id INTEGER PRIMARY KEY, name TEXT)")
	_, err := Open(path, Options{})
	if err == nil || !strings.Contains(err.Error(), `no column "created_at"`) || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v", err)
	}
}

func TestReadOnlyOption(t *testing.T) {
	path := copyFixture(t)
	openT(t, path, Options{}).Close()
	s := openT(t, path, Options{ReadOnly: true})
	if vms, err := s.ListVMs(bg, "local"); err != nil || len(vms) != 2 {
		t.Fatalf("ListVMs = %v, %v", vms, err)
	}
	_, err := s.UpsertVM(bg, "local", "x", cfg("x", 1))
	if !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), path) {
		t.Fatalf("UpsertVM on read-only store: %v", err)
	}
	// A never-migrated file opens read-only too: status is simply empty.
	s2 := openT(t, copyFixture(t), Options{ReadOnly: true})
	if st, err := s2.ListDrifted(bg); err != nil || len(st) != 0 {
		t.Fatalf("ListDrifted = %v, %v", st, err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing.db"), Options{ReadOnly: true}); err == nil {
		t.Fatal("read-only open of a missing file succeeded")
	}
}

// chattrImmutable makes path immutable, which stops even root (tests run as
// root, so chmod 0400 proves nothing). It skips when chattr is unavailable.
func chattrImmutable(t *testing.T, path string) {
	t.Helper()
	if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
		t.Fatalf("chattr +i failed (%v: %s): the read-only tests need root and e2fsprogs (scripts/testenv.sh)", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("chattr", "-i", path).Run() })
}

func TestReadOnlyFile(t *testing.T) {
	path := copyFixture(t)
	openT(t, path, Options{}).Close()
	chattrImmutable(t, path)
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open of an unwritable but migrated file should allow reads: %v", err)
	}
	defer s.Close()
	if _, err := s.ListVMs(bg, "local"); err != nil {
		t.Fatalf("ListVMs: %v", err)
	}
	_, err = s.UpsertVM(bg, "local", "x", cfg("x", 1))
	if !errors.Is(err, ErrReadOnly) {
		t.Fatalf("UpsertVM = %v, want ErrReadOnly", err)
	}
	for _, want := range []string{path, "fix the permissions"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	t.Log(err)
}

func TestReadOnlyDirectory(t *testing.T) {
	dir := t.TempDir()
	chattrImmutable(t, dir)
	path := filepath.Join(dir, "virtumancer.db")
	_, err := Open(path, Options{})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "writable") {
		t.Fatalf("err = %v", err)
	}
	t.Log(err)
}

// A file we cannot migrate because it is unwritable says so at Open.
func TestReadOnlyFileNeedingMigration(t *testing.T) {
	path := copyFixture(t)
	chattrImmutable(t, path)
	_, err := Open(path, Options{})
	if !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v", err)
	}
	t.Log(err)
}

func rawCreate(t *testing.T, path, ddl string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	rawExec(t, path, ddl)
}

// SQLite needs to create -wal and -shm next to the file: an existing file in
// a directory nobody may write to is refused at Open, with the advice.
func TestReadOnlyDirectoryExistingFile(t *testing.T) {
	fresh := copyFixture(t) // rollback journal: Open must switch it to WAL
	migrated := copyFixture(t)
	openT(t, migrated, Options{}).Close()
	for _, tc := range []struct {
		name, path string
		opts       Options
	}{
		{"fixture", fresh, Options{}},
		{"wal", migrated, Options{}},
		{"wal read-only", migrated, Options{ReadOnly: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chattrImmutable(t, filepath.Dir(tc.path))
			s, err := Open(tc.path, tc.opts)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			for _, want := range []string{tc.path, "fix the permissions", filepath.Dir(tc.path)} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			t.Log(err)
		})
	}
}

// TestCommitsAreSynchronousNormal: every connection of the pool commits
// with synchronous=NORMAL (1), for reads and writes alike.
func TestCommitsAreSynchronousNormal(t *testing.T) {
	s := newStore(t)
	pragma := func(tx *Tx) (n int, err error) {
		err = tx.query("read synchronous", "PRAGMA synchronous", func(st row) error {
			n = st.Int(0)
			return nil
		})
		return n, err
	}
	for _, write := range []bool{false, true} {
		var n int
		run := s.Read
		if write {
			run = s.Write
		}
		if err := run(bg, func(tx *Tx) (err error) { n, err = pragma(tx); return err }); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("write=%v: PRAGMA synchronous = %d, want 1 (NORMAL)", write, n)
		}
	}
}

// TestWroteWithin: a committed write vouches for the file it went to, for
// the given time; a failed one and a reopened file do not.
func TestWroteWithin(t *testing.T) {
	s := newStore(t)
	if s.WroteWithin(time.Hour) {
		t.Fatal("WroteWithin before any write = true")
	}
	failed := errors.New("no")
	if err := s.Write(bg, func(*Tx) error { return failed }); !errors.Is(err, failed) {
		t.Fatalf("Write = %v", err)
	}
	if s.WroteWithin(time.Hour) {
		t.Fatal("WroteWithin after a failed write = true")
	}
	if _, err := s.UpsertVM(bg, "h", "vm", cfg("vm", 1)); err != nil {
		t.Fatal(err)
	}
	if !s.WroteWithin(time.Hour) || s.WroteWithin(0) {
		t.Fatalf("WroteWithin(1h), WroteWithin(0) after a write = %v, %v; want true, false",
			s.WroteWithin(time.Hour), s.WroteWithin(0))
	}
	if err := s.Reopen(bg); err != nil {
		t.Fatal(err)
	}
	if s.WroteWithin(time.Hour) {
		t.Fatal("WroteWithin after Reopen = true")
	}
}
