package hypervisor

import (
	"context"
	"testing"
)

// vmInfo is the read a refresh does: look the domain up, then its
// persistent definition and runtime.
func vmInfo(ctx context.Context, c *Conn) error {
	d, err := c.LookupDomain(ctx, "test")
	if err != nil {
		return err
	}
	if _, err := c.DomainXML(ctx, d, true); err != nil {
		return err
	}
	_, err = c.Runtime(ctx, d)
	return err
}

// BenchmarkVMInfoShared reads over the pool's shared connection.
func BenchmarkVMInfoShared(b *testing.B) {
	requireDaemon(b)
	p := newPool(b, Options{})
	ctx := context.Background()
	for b.Loop() {
		c, err := p.Get(ctx, "local", testURI)
		if err != nil {
			b.Fatal(err)
		}
		if err := vmInfo(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVMInfoFresh dials, reads and disconnects every time: what a
// client without a pool pays.
func BenchmarkVMInfoFresh(b *testing.B) {
	requireDaemon(b)
	ctx := context.Background()
	for b.Loop() {
		p := NewPool(Options{})
		c, err := p.Get(ctx, "local", testURI)
		if err != nil {
			b.Fatal(err)
		}
		if err := vmInfo(ctx, c); err != nil {
			b.Fatal(err)
		}
		if err := p.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
