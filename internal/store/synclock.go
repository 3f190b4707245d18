package store

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrSyncClaimed is wrapped by ClaimSync when another sync service
// already syncs this store file.
var ErrSyncClaimed = errors.New("another virtumancer-sync already syncs this store")

// ClaimSync makes this process the one sync service of a SQLite store
// (on PostgreSQL it claims nothing: replicas share hosts there, claims.go):
// two daemons on one file would each sync every host and race each other's
// writes, so the second one refuses to start (SPEC 7; several replicas need
// PostgreSQL). The claim is an exclusive flock on "<store>.sync-lock",
// a file of its own: the kernel drops it when the process dies, however it
// dies, and it never touches the POSIX locks SQLite holds on the store file
// itself (closing any descriptor of that file would drop those). The holder
// writes its pid and start time into the file so the refusal can name it.
// release gives the claim up; the file stays, as removing it would race a
// new claimant that already opened it.
func (s *Store) ClaimSync() (release func() error, err error) {
	if s.pg != nil { // replicas share a PostgreSQL store, host by host
		return func() error { return nil }, nil
	}
	path := s.path + ".sync-lock"
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, s.errf("claim the store for this sync service: %w; make %s writable by this user", err, path)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := readHolder(f)
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, s.errf("%w (%s, lock file %s): run one virtumancer-sync per SQLite store; stop the other one first, "+
				"or move the store to PostgreSQL to run several replicas", ErrSyncClaimed, holder, path)
		}
		return nil, s.errf("claim the store for this sync service: lock %s: %w", path, err)
	}
	// Best effort: the lock, not this text, is what excludes others.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(fmt.Sprintf("pid=%d started=%s\n", os.Getpid(), time.Now().UTC().Format(time.RFC3339))), 0)
	}
	return f.Close, nil // closing the descriptor releases the flock
}

// readHolder describes the claimant from what it wrote into the lock file.
func readHolder(f *os.File) string {
	buf := make([]byte, 128)
	n, _ := f.ReadAt(buf, 0)
	var pid, started string
	for _, kv := range strings.Fields(string(buf[:n])) {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "pid":
			if _, err := strconv.Atoi(v); err == nil {
				pid = v
			}
		case "started":
			started = v
		}
	}
	if pid == "" {
		return "holder unknown"
	}
	return "pid " + pid + ", started " + started
}
