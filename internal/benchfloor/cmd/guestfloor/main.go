// Command guestfloor runs the guest floor of `make bench`
// (internal/benchfloor/guestfloor) against a pool, base volume and network
// that exist, prints one line per guest and a FLOOR line with the wall time
// until every guest had a lease, and removes its guests again.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/benchfloor/guestfloor"
)

func main() {
	var o guestfloor.Options
	uri := flag.String("uri", "qemu:///system", "libvirt URI")
	sock := flag.String("socket", "/var/run/libvirt/libvirt-sock", "libvirtd's unix socket")
	flag.StringVar(&o.Pool, "pool", "", "pool holding the base volume (required)")
	flag.StringVar(&o.Base, "base", "", "base volume of the overlays (required)")
	flag.StringVar(&o.Network, "network", "", "libvirt network with DHCP (required)")
	flag.StringVar(&o.Prefix, "prefix", "guestfloor", "name prefix of the guests")
	flag.IntVar(&o.N, "n", 10, "number of guests")
	flag.Uint64Var(&o.MemoryMiB, "memory", 128, "memory per guest, MiB")
	flag.DurationVar(&o.Timeout, "timeout", 10*time.Minute, "time for all guests to get a lease")
	flag.Parse()
	if o.Pool == "" || o.Base == "" || o.Network == "" || o.N < 1 {
		fmt.Fprintln(os.Stderr, "guestfloor: -pool, -base and -network are required and -n must be at least 1")
		os.Exit(2)
	}
	if err := run(*uri, *sock, o); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(uri, sock string, o guestfloor.Options) error {
	u, err := url.Parse(uri)
	if err != nil {
		return fmt.Errorf("guestfloor: bad URI %q: %w", uri, err)
	}
	l := libvirt.NewWithDialer(dialers.NewLocal(dialers.WithSocket(sock)))
	if err := l.ConnectToURI(libvirt.RemoteURI(u)); err != nil {
		return fmt.Errorf("guestfloor: connect to %s over %s: %w", uri, sock, err)
	}
	defer func() { _ = l.Disconnect() }()
	guests, took, err := guestfloor.Run(context.Background(), l, o)
	for _, g := range guests {
		fmt.Printf("guest %s mac %s ip %s leased after %.1fs\n", g.Name, g.MAC, g.IP, g.Leased.Seconds())
	}
	if cerr := guestfloor.Clean(l, o); cerr != nil {
		fmt.Fprintf(os.Stderr, "guestfloor: cleanup: %v (remove the %s-* domains and overlays by hand)\n", cerr, o.Prefix)
	}
	if err != nil {
		return err
	}
	fmt.Printf("FLOOR guests=%d seconds=%.2f\n", o.N, took.Seconds())
	return nil
}
