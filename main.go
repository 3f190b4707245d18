// Command terraform-provider-virtumancer serves the Virtumancer provider over
// Terraform plugin protocol 6.
package main

import (
	"context"
	"flag"
	"log"
	"os"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/version"
	"github.com/virtumancer/terraform-provider-virtumancer/provider"
)

//go:generate go run github.com/hashicorp/terraform-plugin-docs/cmd/tfplugindocs generate --provider-name virtumancer

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run with support for debuggers like delve")
	flag.Parse()
	if !debug {
		quietUnlessLogging()
	}

	err := providerserver.Serve(context.Background(), provider.New(version.Version), providerserver.ServeOpts{
		Address: "registry.terraform.io/virtumancer/virtumancer",
		Debug:   debug,
	})
	if err != nil {
		log.Fatal(err)
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
