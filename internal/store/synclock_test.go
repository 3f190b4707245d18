package store

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestClaimSync: a second claim on the same store file is refused, naming
// the holder; once released, the store can be claimed again. flock locks
// belong to open file descriptions, so two claims in one process exclude
// each other as two processes would.
func TestClaimSync(t *testing.T) {
	s := newStore(t)
	release, err := s.ClaimSync()
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(s.Path() + ".sync-lock")
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("lock file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}

	other, err := Open(s.Path(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	_, err = other.ClaimSync()
	if !errors.Is(err, ErrSyncClaimed) {
		t.Fatalf("second claim: %v; want ErrSyncClaimed", err)
	}
	for _, want := range []string{"pid " + strconv.Itoa(os.Getpid()), s.Path() + ".sync-lock", "run one virtumancer-sync per SQLite store", "PostgreSQL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("second claim's error %q lacks %q", err, want)
		}
	}

	if err := release(); err != nil {
		t.Fatal(err)
	}
	again, err := other.ClaimSync()
	if err != nil {
		t.Fatalf("claim after release: %v", err)
	}
	_ = again()
}
