// Command terraform-provider-virtumancer serves the Virtumancer provider over
// Terraform plugin protocol 6.
package main

import (
	"context"
	"flag"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/version"
	"github.com/virtumancer/terraform-provider-virtumancer/provider"
)

//go:generate go run github.com/hashicorp/terraform-plugin-docs/cmd/tfplugindocs generate --provider-name virtumancer

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run with support for debuggers like delve")
	flag.Parse()

	err := providerserver.Serve(context.Background(), provider.New(version.Version), providerserver.ServeOpts{
		Address: "registry.terraform.io/virtumancer/virtumancer",
		Debug:   debug,
	})
	if err != nil {
		log.Fatal(err)
	}
}
