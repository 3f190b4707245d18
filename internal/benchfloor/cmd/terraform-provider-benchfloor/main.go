// Command terraform-provider-benchfloor serves the bench's no-op floor
// provider (internal/benchfloor) over plugin protocol 6. scripts/bench-plan.sh
// builds it and installs it through dev_overrides.
package main

import (
	"context"
	"log"
	"os"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/benchfloor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/cpuprofile"
)

func main() {
	quietUnlessLogging()
	stopProfile := cpuprofile.Start("terraform-provider-benchfloor")
	err := providerserver.Serve(context.Background(), benchfloor.New, providerserver.ServeOpts{Address: benchfloor.Address})
	stopProfile()
	if err != nil {
		log.Fatal(err)
	}
}

// quietUnlessLogging turns the SDK loggers off as the real provider's main
// does, so the floor does not pay for JSON logs the real provider skips.
func quietUnlessLogging() {
	if os.Getenv("TF_LOG") != "" || os.Getenv("TF_LOG_PROVIDER") != "" {
		return
	}
	for _, v := range []string{"TF_LOG_SDK", "TF_LOG_SDK_PROTO", "TF_LOG_SDK_FRAMEWORK"} {
		if _, set := os.LookupEnv(v); !set {
			_ = os.Setenv(v, "OFF")
		}
	}
}
