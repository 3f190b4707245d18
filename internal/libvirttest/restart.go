package libvirttest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RestartEnv opts a run into the tests that restart the shared libvirtd
// (CI sets it): they disturb every other test using the daemon meanwhile.
const RestartEnv = "VIRTUMANCER_TEST_RESTART_LIBVIRTD"

// Restart stops libvirtd by its pid file, waits a second so that clients
// see the outage, starts it again with scripts/libvirtd.sh (inside the
// tests' network namespace, as testenv.sh does), waits until it answers
// and takes a new holder of test:///default (the old one died with it).
func Restart(t testing.TB) {
	t.Helper()
	data, err := os.ReadFile("/run/libvirtd.pid")
	if err != nil {
		t.Fatalf("%s=1 but libvirtd's pid file is unreadable: %v", RestartEnv, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("libvirtd pid file holds %q: %v", data, err)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatalf("stop libvirtd (pid %d): %v", pid, err)
	}
	waitFor(t, 30*time.Second, "libvirtd exited", func() error {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("pid %d: %w", pid, err)
		}
		return nil
	})
	time.Sleep(time.Second)
	if out, err := exec.CommandContext(context.Background(), "bash", filepath.Join(moduleRoot(t), "scripts", "libvirtd.sh"), "start").CombinedOutput(); err != nil {
		t.Fatalf("scripts/libvirtd.sh start: %v: %s", err, out)
	}
	waitFor(t, 30*time.Second, "libvirtd answers again", Rehold)
	t.Logf("libvirtd (pid %d) restarted", pid)
}

func waitFor(t testing.TB, limit time.Duration, what string, ok func() error) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if err = ok(); err == nil {
			return
		}
	}
	t.Fatalf("%s: not within %s: %v", what, limit, err)
}

// moduleRoot is the repository's top directory, found from this file.
func moduleRoot(t testing.TB) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("libvirttest: cannot locate its own source file to find scripts/")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}
