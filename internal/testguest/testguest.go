// Package testguest gives tests the tiny real guest of SPEC section 6: a raw
// disk that BIOS-boots a Debian kernel and a busybox initramfs, reads a
// NoCloud seed, sets its hostname, prints what it read on ttyS0, takes a DHCP
// lease on eth0 and runs Debian's qemu-guest-agent. The ACPI power button and
// the agent's guest-shutdown power it off (libvirt: shut off, reason
// shutdown), so a graceful shutdown never waits out a forced one.
// scripts/testguest.sh builds the image once into .cache/testguest; this
// package finds or builds it (Image), makes per-test overlays, seeds and
// domain XML, reads the console back (ParseConsole, WaitConsole) and asks the
// agent. Tests only.
package testguest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Script is the builder, relative to the module root.
const Script = "scripts/testguest.sh"

// FixHint is what a test that cannot get the image tells the developer.
const FixHint = "run `sudo bash " + Script + "` once (it installs its Debian packages and builds the image into .cache/testguest)"

// built holds the image path for the rest of the test binary: the script
// runs at most once per binary (it is quick when the image exists).
var built struct {
	once sync.Once
	path string
	err  error
}

// Image returns the path of the guest's raw disk, building it the first
// time; it fails the test, with the fix, when it cannot. Boot an overlay
// (Overlay) or a copy, never the image itself: every test shares it.
func Image(t testing.TB) string {
	t.Helper()
	built.once.Do(func() { built.path, built.err = build() })
	if built.err != nil {
		t.Fatalf("this test needs the tiny test guest: %v", built.err)
	}
	return built.path
}

func build() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	// A cold build installs packages and downloads a kernel: minutes at worst.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, Script))
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("testguest: %s failed: %w: %s; %s", Script, err, strings.TrimSpace(stderr.String()), FixHint)
	}
	path := strings.TrimSpace(stdout.String())
	if st, err := os.Stat(path); err != nil || st.Size() == 0 {
		return "", fmt.Errorf("testguest: %s printed %q, which is not an image file; %s", Script, path, FixHint)
	}
	return path, nil
}

// moduleRoot walks up from the working directory (a package folder under
// go test) to the folder that holds this module's go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("testguest: working directory: %w", err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		mod, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && bytes.Contains(mod, []byte("module github.com/virtumancer/terraform-provider-virtumancer\n")) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("testguest: no go.mod of terraform-provider-virtumancer above " + dir + "; run the tests from inside the module")
		}
	}
}

// Overlay makes a qcow2 overlay of the image at path (qemu-img, from
// qemu-utils) and returns path, so each guest writes to its own file. Name
// it *.qcow2: Domain picks the disk format by that suffix.
func Overlay(t testing.TB, path string) string {
	t.Helper()
	base := Image(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", base, path).CombinedOutput()
	if err != nil {
		t.Fatalf("testguest: qemu-img create of an overlay of %s at %s: %v: %s (qemu-img comes with qemu-utils; scripts/testenv.sh installs it)",
			base, path, err, strings.TrimSpace(string(out)))
	}
	return path
}
