package hypervisor

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestIntegrationConcurrentUse(t *testing.T) {
	requireDaemon(t)
	p := newPool(t, Options{})
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() { errs <- useConn(ctx(t), p) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := p.dials.Load(); n != 1 {
		t.Errorf("20 concurrent users dialled %d times, want once", n)
	}
}

// useConn does what a resource refresh does: get, look up, read.
func useConn(ctx context.Context, p *Pool) error {
	c, err := p.Get(ctx, "local", testURI)
	if err != nil {
		return err
	}
	d, err := c.LookupDomain(ctx, "test")
	if err != nil {
		return err
	}
	if _, err := c.DomainXML(ctx, d, true); err != nil {
		return err
	}
	if _, err := c.Runtime(ctx, d); err != nil {
		return err
	}
	if _, err := c.ListDomains(ctx); err != nil {
		return err
	}
	_, err = c.Facts(ctx)
	return err
}

func TestIntegrationRedialAfterDrop(t *testing.T) {
	requireDaemon(t)
	p := newPool(t, Options{})
	c, err := p.Get(ctx(t), "local", testURI)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := c.s.client(ctx(t))
	if err := first.l.Disconnect(); err != nil { // the connection closes under the pool
		t.Fatal(err)
	}
	// The old handle keeps working: it re-dials before the call.
	if _, err := c.LookupDomain(ctx(t), "test"); err != nil {
		t.Fatalf("call after the connection dropped: %v", err)
	}
	c2, err := p.Get(ctx(t), "local", testURI)
	if err != nil {
		t.Fatal(err)
	}
	second, _ := c2.s.client(ctx(t))
	if second == first || !second.alive() || p.dials.Load() != 2 {
		t.Errorf("want one re-dial to a new live connection; dials = %d", p.dials.Load())
	}
}

// TestGetErrors needs no daemon: every Get here fails before one answers.
func TestGetErrors(t *testing.T) {
	p := newPool(t, Options{DialTimeout: 2 * time.Second})
	sock := filepath.Join(t.TempDir(), "none.sock")
	_, err := p.Get(ctx(t), "ghost", "qemu+unix:///system?socket="+sock)
	for _, w := range []string{`host "ghost"`, "connect", "libvirtd does not answer on " + sock} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Get on a missing socket = %v, want it to mention %q", err, w)
		}
	}
	if _, err := p.Get(ctx(t), "bad", "qemu+ftp://h/system"); !errors.As(err, new(*URIError)) {
		t.Errorf("Get with a bad URI = %v, want *URIError", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Get(ctx(t), "local", testURI); !errors.Is(err, ErrPoolClosed) {
		t.Errorf("Get after Close = %v, want ErrPoolClosed", err)
	}
}

func TestIntegrationCallTimeoutOnRealDaemon(t *testing.T) {
	requireDaemon(t)
	// 1ns: the timer fires before any round trip to the daemon can end.
	p := newPool(t, Options{CallTimeout: time.Nanosecond})
	c, err := p.Get(ctx(t), "local", testURI)
	if err != nil {
		t.Fatal(err)
	}
	cl, _ := c.s.client(ctx(t))
	_, err = c.Facts(ctx(t))
	checkTimeout(t, err, "local", testURI, "read host facts")
	if cl.alive() {
		t.Error("the connection is still in use after a timeout")
	}
}

// TestCallTimeoutBlockedDaemon uses a fake daemon that completes the
// connect handshake and then never answers: a real hung libvirtd.
func TestCallTimeoutBlockedDaemon(t *testing.T) {
	fake := startFakeDaemon(t)
	uri := "qemu+unix:///system?socket=" + fake.path
	p := newPool(t, Options{CallTimeout: 300 * time.Millisecond, DialTimeout: 2 * time.Second})
	c, err := p.Get(ctx(t), "hung", uri)
	if err != nil {
		t.Fatal(err)
	}
	// Two calls in flight: the first times out and closes the socket, which
	// ends the second at once (a change, so it is not retried).
	var wg sync.WaitGroup
	errs := make([]error, 2)
	web1 := Domain{Name: "web-1", UUID: "6695eb01-f6a4-8304-79aa-97f2502e193f"}
	wg.Go(func() { _, errs[0] = c.LookupDomain(ctx(t), "web-1") })
	wg.Go(func() { time.Sleep(100 * time.Millisecond); errs[1] = c.SetAutostart(ctx(t), web1, true) })
	wg.Wait()
	checkTimeout(t, errs[0], "hung", uri, `look up domain "web-1"`)
	if !errors.Is(errs[1], ErrConnectionLost) || !strings.Contains(errs[1].Error(), "set autostart") {
		t.Errorf("the second call in flight: %v, want ErrConnectionLost", errs[1])
	}
	// The next call dials a new connection (which hangs in turn).
	_, err = c.ListDomains(ctx(t))
	checkTimeout(t, err, "hung", uri, "list domains")
	if n := fake.conns.Load(); n != 2 {
		t.Errorf("fake daemon saw %d connections, want 2 (a re-dial after the timeout)", n)
	}
	// A caller's own deadline is not a daemon timeout: the connection stays.
	short, cancel := context.WithTimeout(ctx(t), 50*time.Millisecond)
	defer cancel()
	if _, err := c.ListDomains(short); !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrTimeout) {
		t.Errorf("caller deadline: %v", err)
	}
}

// TestDialTimeout: a daemon that accepts but never completes the handshake
// fails Get within DialTimeout.
func TestDialTimeout(t *testing.T) {
	fake := startFake(t, true)
	uri := "qemu+unix:///system?socket=" + fake.path
	begin := time.Now()
	_, err := newPool(t, Options{DialTimeout: 300 * time.Millisecond}).Get(ctx(t), "mute", uri)
	checkTimeout(t, err, "mute", uri, "connect")
	if took := time.Since(begin); took > 2*time.Second {
		t.Errorf("Get took %s with a 300ms dial timeout", took)
	}
}

func checkTimeout(t *testing.T, err error, host, uri, op string) {
	t.Helper()
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	for _, w := range []string{"timeout", `host "` + host + `"`, uri, op} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("err = %q, want it to mention %q", err, w)
		}
	}
}

// fakeDaemon speaks just enough of libvirt's RPC protocol to connect:
// it answers AuthList and ConnectOpen, then swallows every call.
type fakeDaemon struct {
	path   string
	conns  atomic.Int64
	silent bool // answer nothing, not even the connect handshake
}

func startFakeDaemon(t *testing.T) *fakeDaemon {
	return startFake(t, false)
}

func startFake(t *testing.T, silent bool) *fakeDaemon {
	f := &fakeDaemon{path: filepath.Join(t.TempDir(), "hung.sock"), silent: silent}
	ln, err := net.Listen("unix", f.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.conns.Add(1)
			go f.serve(c)
		}
	}()
	return f
}

const (
	procConnectOpen = 1
	procAuthList    = 66
)

func (f *fakeDaemon) serve(c net.Conn) {
	defer c.Close()
	hdr := make([]byte, 28) // length + program, version, procedure, type, serial, status
	for {
		if _, err := io.ReadFull(c, hdr); err != nil {
			return
		}
		body := make([]byte, binary.BigEndian.Uint32(hdr[0:4])-28)
		if _, err := io.ReadFull(c, body); err != nil {
			return
		}
		var payload []byte
		if f.silent {
			continue
		}
		switch binary.BigEndian.Uint32(hdr[12:16]) {
		case procAuthList:
			payload = []byte{0, 0, 0, 1, 0, 0, 0, 0} // one auth type: none
		case procConnectOpen:
		default:
			continue // hang: never answer
		}
		reply := make([]byte, 28, 28+len(payload))
		copy(reply[4:], hdr[4:28])
		binary.BigEndian.PutUint32(reply[16:20], 1) // type: reply
		binary.BigEndian.PutUint32(reply[24:28], 0) // status: ok
		reply = append(reply, payload...)
		binary.BigEndian.PutUint32(reply[0:4], uint32(len(reply)))
		if _, err := c.Write(reply); err != nil {
			return
		}
	}
}

func TestGetRefusedTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there now
	_, err = newPool(t, Options{}).Get(ctx(t), "tcp", "qemu+tcp://"+addr+"/system")
	if err == nil || !strings.Contains(err.Error(), "nothing listens on "+addr) || !strings.Contains(err.Error(), `host "tcp"`) {
		t.Errorf("Get on a closed port = %v", err)
	}
}
