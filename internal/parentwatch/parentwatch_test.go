package parentwatch

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// roleEnv makes the test binary play a part in TestOrphanNoticesParentDeath
// instead of running tests.
const roleEnv = "PARENTWATCH_TEST_ROLE"

func TestMain(m *testing.M) {
	switch os.Getenv(roleEnv) {
	case "middle":
		os.Exit(middle())
	case "leaf":
		os.Exit(leaf())
	}
	os.Exit(m.Run())
}

// middle starts the leaf, prints its pid and waits to be killed, as the CLI
// waits on its provider.
func middle() int {
	leaf := exec.Command(os.Args[0])
	leaf.Env = append(os.Environ(), roleEnv+"=leaf")
	leaf.Stdout = os.Stderr // the leaf's report goes where the test reads it
	if err := leaf.Start(); err != nil {
		fmt.Println("error", err)
		return 1
	}
	fmt.Println(leaf.Process.Pid)
	time.Sleep(time.Minute)
	return 1
}

// leaf watches its parent and reports which pid it lost, then exits.
func leaf() int {
	gone := make(chan int)
	Start(20*time.Millisecond, func(parent int) { gone <- parent })
	select {
	case p := <-gone:
		fmt.Printf("gone %d\n", p)
		return 0
	case <-time.After(30 * time.Second):
		fmt.Println("still watching after 30s")
		return 1
	}
}

func TestStartReportsTheParentThatWentAway(t *testing.T) {
	var ppid atomic.Int64
	ppid.Store(100)
	calls := make(chan int, 2)
	stop := start(5*time.Millisecond, func() int { return int(ppid.Load()) }, func(p int) { calls <- p })
	defer stop()
	select {
	case p := <-calls:
		t.Fatalf("gone(%d) called while the parent was still there", p)
	case <-time.After(50 * time.Millisecond):
	}
	ppid.Store(1) // reparented to init
	select {
	case p := <-calls:
		if p != 100 {
			t.Fatalf("gone(%d), want the old parent 100", p)
		}
	case <-time.After(time.Second):
		t.Fatal("gone was not called within 1s of the parent changing")
	}
	select {
	case p := <-calls:
		t.Fatalf("gone called a second time (%d)", p)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestStopEndsTheWatch(t *testing.T) {
	var ppid atomic.Int64
	ppid.Store(100)
	var called atomic.Bool
	stop := start(5*time.Millisecond, func() int { return int(ppid.Load()) }, func(int) { called.Store(true) })
	stop()
	stop() // twice is harmless
	ppid.Store(1)
	time.Sleep(50 * time.Millisecond)
	if called.Load() {
		t.Fatal("gone was called after stop")
	}
}

// TestOrphanNoticesParentDeath runs the real thing: a process (the test
// binary as "middle") starts a watcher ("leaf") and is killed with SIGKILL;
// the leaf must report the middle's pid within a second or so.
func TestOrphanNoticesParentDeath(t *testing.T) {
	mid := exec.Command(os.Args[0])
	mid.Env = append(os.Environ(), roleEnv+"=middle")
	out, err := mid.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	// A pipe of our own: the leaf keeps its write end after the middle
	// dies, and Wait would close a StderrPipe under us.
	report, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer report.Close()
	mid.Stderr = w
	err = mid.Start()
	_ = w.Close()
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("middle printed no leaf pid: %v", err)
	}
	leafPid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("middle said %q, want the leaf's pid", line)
	}
	t.Cleanup(func() { _ = syscall.Kill(leafPid, syscall.SIGKILL) })
	time.Sleep(100 * time.Millisecond) // the leaf has read its parent by now
	killed := time.Now()
	if err := mid.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = mid.Wait()

	got := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(report).ReadString('\n')
		got <- strings.TrimSpace(l)
	}()
	select {
	case l := <-got:
		if want := fmt.Sprintf("gone %d", mid.Process.Pid); l != want {
			t.Fatalf("leaf said %q, want %q", l, want)
		}
		t.Logf("the leaf noticed its parent's death after %s", time.Since(killed).Round(time.Millisecond))
	case <-time.After(3 * time.Second):
		t.Fatal("the leaf did not notice its parent's death within 3s")
	}
}
