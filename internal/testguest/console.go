package testguest

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// What the guest's /init prints on ttyS0 (scripts/testguest.sh): report
// lines start with LinePrefix; each seed file it read is printed between
// a begin and an end line.
const (
	LinePrefix   = "testguest: "
	sectionBegin = "----- testguest begin "
	sectionEnd   = "----- testguest end "
	sectionClose = " -----"
)

// Console is what the guest reported on its serial console.
type Console struct {
	// Sections maps a seed file name (meta-data, user-data,
	// network-config) to its content as the guest read it, ending in a
	// newline.
	Sections    map[string]string
	SeedDevice  string // the block device the seed was found on
	InstanceID  string
	Hostname    string // the hostname the guest set
	Leases      []Lease
	Agent       bool          // qemu-guest-agent started
	PowerButton bool          // acpid runs: the ACPI power button powers the guest off
	Shutdown    string        // once it began to: "poweroff (power button)" or "poweroff|halt|reboot (agent)"
	Ready       bool          // /init finished
	ReadyAfter  time.Duration // the guest's uptime when /init finished
}

// Lease is a DHCP lease udhcpc took.
type Lease struct {
	Interface, IP, Router, Server string
	Prefix                        int
}

// ParseConsole reads a console log. Only complete lines count, so a log
// read while the guest writes never yields a cut-off value; kernel messages
// between the guest's lines are ignored.
func ParseConsole(log string) Console {
	log = strings.ReplaceAll(log, "\r\n", "\n")
	if i := strings.LastIndexByte(log, '\n'); i >= 0 {
		log = log[:i+1]
	} else {
		log = ""
	}
	c := Console{Sections: map[string]string{}}
	var open string // the section being read, "" outside one
	var body strings.Builder
	for _, line := range strings.SplitAfter(log, "\n") {
		bare := strings.TrimSuffix(line, "\n")
		switch {
		case open != "" && bare == sectionEnd+open+sectionClose:
			c.Sections[open], open = body.String(), ""
		case open != "":
			body.WriteString(line)
		case strings.HasPrefix(bare, sectionBegin) && strings.HasSuffix(bare, sectionClose):
			open = strings.TrimSuffix(strings.TrimPrefix(bare, sectionBegin), sectionClose)
			body.Reset()
		case strings.HasPrefix(bare, LinePrefix):
			c.report(strings.TrimPrefix(bare, LinePrefix))
		}
	}
	return c
}

// report applies one "testguest: ..." line.
func (c *Console) report(line string) {
	switch {
	case strings.HasPrefix(line, "hostname="):
		c.Hostname = strings.TrimPrefix(line, "hostname=")
	case strings.HasPrefix(line, "instance-id="):
		c.InstanceID = strings.TrimPrefix(line, "instance-id=")
	case strings.HasPrefix(line, "seed found on "):
		c.SeedDevice = strings.TrimPrefix(line, "seed found on ")
	case strings.HasPrefix(line, "lease "):
		c.Leases = append(c.Leases, parseLease(strings.TrimPrefix(line, "lease ")))
	case strings.HasPrefix(line, "agent started"):
		c.Agent = true
	case strings.HasPrefix(line, "acpid started"):
		c.PowerButton = true
	case strings.HasPrefix(line, "shutting down: "):
		c.Shutdown = strings.TrimPrefix(line, "shutting down: ")
	case line == "ready" || strings.HasPrefix(line, "ready "):
		c.Ready = true
		// "ready (uptime 7.12 s)"
		if secs, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimPrefix(line, "ready (uptime "), " s)"), 64); err == nil {
			c.ReadyAfter = time.Duration(secs * float64(time.Second))
		}
	}
}

// parseLease reads "eth0 ip=10.0.2.15 mask=24 router=10.0.2.2 server=10.0.2.2".
func parseLease(s string) Lease {
	fields := strings.Fields(s)
	var l Lease
	if len(fields) > 0 {
		l.Interface = fields[0]
	}
	for _, f := range fields {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "ip":
			l.IP = v
		case "mask":
			l.Prefix, _ = strconv.Atoi(v)
		case "router":
			l.Router = v
		case "server":
			l.Server = v
		}
	}
	return l
}

// WaitConsole polls the console log at path until done is true of it and
// returns it; after timeout it fails the test with what the guest printed,
// so a failed boot is readable in the test output. what says what was
// awaited ("the hostname").
func WaitConsole(t testing.TB, path string, timeout time.Duration, what string, done func(Console) bool) Console {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		raw, err := os.ReadFile(path)
		c := ParseConsole(string(raw))
		if err == nil && done(c) {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("testguest: waited %s for %s on the console %s; read error: %v; it shows:\n%s",
				timeout, what, path, err, tail(string(raw), 40))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// ConsoleTail is the last n lines of the console log at path, for a failure
// message (or the read error, said as such).
func ConsoleTail(path string, n int) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(console %s unreadable: %v)", path, err)
	}
	return tail(string(raw), n)
}
