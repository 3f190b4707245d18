package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/libvirttest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/syncer/syncertest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// Test* tests need nothing; TestIntegration* build the binary and run it
// against the real libvirtd, failing (never skipping) without it.

var (
	binDir    string
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// TestMain closes the test:///default holder that the first test needing
// libvirtd opened; plain Test… tests never open it.
func TestMain(m *testing.M) {
	var err error
	if binDir, err = os.MkdirTemp("", "virtumancer-sync-test-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := libvirttest.Run(m)
	_ = os.RemoveAll(binDir)
	os.Exit(code)
}

func requireDaemon(t testing.TB) {
	t.Helper()
	libvirttest.Require(t)
}

// binary builds the command once per test binary, as CI would ship it.
func binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		binPath = filepath.Join(binDir, "virtumancer-sync")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// result is a finished command run.
type result struct {
	stdout, stderr string
	code           int
}

// runCLI runs the binary to completion.
func runCLI(t testing.TB, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	cmd.Env = append(cleanEnv(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		t.Fatalf("run %v: %v", args, err)
	}
	t.Logf("$ virtumancer-sync %s -> exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
	return result{out.String(), errb.String(), code}
}

// cleanEnv drops settings of ours a developer may have exported.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envDatabase+"=") && !strings.HasPrefix(kv, envToken+"=") {
			env = append(env, kv)
		}
	}
	return env
}

// service is a running virtumancer-sync with JSON logs.
type service struct {
	t    testing.TB
	cmd  *exec.Cmd
	addr string

	mu     sync.Mutex
	logs   []map[string]any
	done   chan struct{} // closed when the process has exited
	stderr bytes.Buffer
}

// startDaemon runs the service on db with HTTP on a free loopback port
// (unless args say otherwise) and waits until it logs that it started.
func startDaemon(t testing.TB, db string, env []string, args ...string) *service {
	t.Helper()
	base := []string{"--database", db, "--log-format", "json", "--log-level", "debug", "--listen", "127.0.0.1:0"}
	d := &service{t: t, cmd: exec.Command(binary(t), append(base, args...)...), done: make(chan struct{})}
	d.cmd.Env = append(cleanEnv(), env...)
	pipe, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go d.readLogs(pipe)
	t.Cleanup(func() {
		if d.running() {
			_ = d.cmd.Process.Kill()
			<-d.done
		}
	})
	started := d.waitLog("virtumancer-sync started", 15*time.Second)
	if l, ok := d.findLog("http listening"); ok {
		d.addr = l["addr"].(string)
	}
	_ = started
	return d
}

func (d *service) readLogs(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		line := sc.Bytes()
		d.mu.Lock()
		d.stderr.Write(line)
		d.stderr.WriteByte('\n')
		if json.Unmarshal(line, &m) == nil {
			d.logs = append(d.logs, m)
		}
		d.mu.Unlock()
	}
	_ = d.cmd.Wait()
	close(d.done)
}

func (d *service) running() bool {
	select {
	case <-d.done:
		return false
	default:
		return true
	}
}

// findLog returns the first log entry with this message.
func (d *service) findLog(msg string, match ...func(map[string]any) bool) (map[string]any, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
next:
	for _, l := range d.logs {
		if l["@message"] != msg {
			continue
		}
		for _, m := range match {
			if !m(l) {
				continue next
			}
		}
		return l, true
	}
	return nil, false
}

func (d *service) waitLog(msg string, within time.Duration, match ...func(map[string]any) bool) map[string]any {
	d.t.Helper()
	var l map[string]any
	syncertest.Eventually(d.t, within, "log line "+strconv.Quote(msg), func() (bool, string) {
		var ok bool
		l, ok = d.findLog(msg, match...)
		if !ok && !d.running() {
			return false, "the process exited: " + d.output()
		}
		return ok, "not logged yet"
	})
	return l
}

func (d *service) output() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stderr.String()
}

// stop sends sig and returns the exit code.
func (d *service) stop(sig os.Signal) int {
	d.t.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil {
		d.t.Fatal(err)
	}
	select {
	case <-d.done:
	case <-time.After(60 * time.Second):
		d.t.Fatalf("no exit within 60s of %v; logs:\n%s", sig, d.output())
	}
	return d.cmd.ProcessState.ExitCode()
}

// get fetches an endpoint, with a bearer token when one is given.
func (d *service) get(path, token string) (int, string) {
	d.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+d.addr+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// getJSON fetches an endpoint that must answer 200 and decodes it.
func (d *service) getJSON(path string, v any) {
	d.t.Helper()
	code, body := d.get(path, "")
	if code != http.StatusOK {
		d.t.Fatalf("GET %s: %d %s", path, code, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		d.t.Fatalf("GET %s: %v: %s", path, err, body)
	}
}

// metric reads one sample from the Prometheus text exposition.
func metric(body, series string) (float64, bool) {
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}

// recordLive writes the domain's current configuration as its recorded
// config, as the provider does after an apply, so a store holds exactly
// the rows a test chooses.
func recordLive(t testing.TB, st *store.Store, host string, l *libvirt.Libvirt, name string) store.VM {
	t.Helper()
	d, err := l.DomainLookupByName(name)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := l.DomainGetXMLDesc(d, libvirt.DomainXMLInactive)
	if err != nil {
		t.Fatal(err)
	}
	info, err := vminfo.FromXML(doc, vminfo.Runtime{State: vminfo.StateShutoff, Persistent: true})
	if err != nil {
		t.Fatal(err)
	}
	vm, err := st.UpsertVM(context.Background(), host, name, info)
	if err != nil {
		t.Fatal(err)
	}
	return vm
}

// sigterm is the signal systemd sends.
var sigterm = syscall.SIGTERM
