// Command terraform-provider-virtumancer serves the Virtumancer provider over
// Terraform plugin protocol 6.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/cpuprofile"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/parentwatch"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/version"
	"github.com/virtumancer/terraform-provider-virtumancer/provider"
)

//go:generate go run github.com/hashicorp/terraform-plugin-docs/cmd/tfplugindocs generate --provider-name virtumancer

// orphanCloseTimeout bounds closing the store and connections before an
// orphaned provider exits: a transaction stuck on another writer's lock
// must not keep it alive (the WAL store is crash-safe without the close).
const orphanCloseTimeout = 2 * time.Second

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run with support for debuggers like delve")
	flag.Parse()
	if !debug {
		quietUnlessLogging()
		// In -debug mode the user starts the process and reattaches the CLI
		// to it: its parent is a shell or debugger, not the CLI.
		parentwatch.Start(parentwatch.Interval, exitOrphaned(os.Stderr))
	}

	stopProfile := cpuprofile.Start("terraform-provider-virtumancer")
	err := providerserver.Serve(context.Background(), provider.New(version.Version), providerserver.ServeOpts{
		Address: "registry.terraform.io/virtumancer/virtumancer",
		Debug:   debug,
	})
	stopProfile()
	if err != nil {
		log.Fatal(err)
	}
}

// exitOrphaned ends the process once the CLI that started it is gone (a
// killed terraform or tofu cannot stop its providers). stderr is the one
// the process started with: the plugin server redirects os.Stderr later.
func exitOrphaned(stderr *os.File) func(parent int) {
	return func(parent int) {
		// The CLI held the other end of stderr: a write must fail with
		// EPIPE, not kill the process before it has closed the store.
		signal.Ignore(syscall.SIGPIPE)
		_, _ = fmt.Fprintf(stderr, "terraform-provider-virtumancer: the CLI that started this provider (pid %d) is gone; "+
			"closing the store and exiting\n", parent)
		closed := make(chan error, 1)
		go func() { closed <- provider.CloseShared() }()
		select {
		case err := <-closed:
			if err != nil {
				_, _ = fmt.Fprintf(stderr, "terraform-provider-virtumancer: closing on exit: %v\n", err)
			}
		case <-time.After(orphanCloseTimeout):
			_, _ = fmt.Fprintf(stderr, "terraform-provider-virtumancer: closing on exit took over %s; exiting anyway\n", orphanCloseTimeout)
		}
		os.Exit(1)
	}
}

// sdkLogLevelVars are the level variables of the loggers the plugin SDKs set
// up in the provider process: the protocol and framework SDK loggers and the
// provider's own tflog logger.
var sdkLogLevelVars = []string{"TF_LOG_SDK", "TF_LOG_SDK_PROTO", "TF_LOG_SDK_FRAMEWORK", "TF_LOG_PROVIDER_VIRTUMANCER"}

// quietUnlessLogging turns the provider process's loggers off when the CLI
// that started it keeps no provider log: Terraform and OpenTofu discard
// provider output unless TF_LOG or TF_LOG_PROVIDER is set. Without this the
// SDKs default to TRACE and encode every line as JSON, which the CLI then
// parses only to drop it: most of the CPU time of a `tofu plan` over
// hundreds of VMs. A level variable the user set is left as it is, and
// setting TF_LOG (or TF_LOG_PROVIDER) restores full provider logs.
func quietUnlessLogging() {
	if os.Getenv("TF_LOG") != "" || os.Getenv("TF_LOG_PROVIDER") != "" {
		return
	}
	for _, v := range sdkLogLevelVars {
		if _, set := os.LookupEnv(v); !set {
			_ = os.Setenv(v, "OFF")
		}
	}
}
