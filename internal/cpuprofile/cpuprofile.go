// Package cpuprofile lets a provider process write a CPU profile, so the
// cost of a plan over many resources can be split between the CLI and the
// provider (scripts/bench-plan.sh, BENCH_PROFILE). The CLI starts several
// provider processes per command, so each writes its own file.
package cpuprofile

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
)

// EnvDir names the directory profiles go to; unset means no profile.
const EnvDir = "VIRTUMANCER_CPU_PROFILE_DIR"

// Start begins a CPU profile of this process into EnvDir as
// NAME-PID.pprof when EnvDir is set, and returns the function that ends it.
// A profile that cannot be written is reported on stderr and skipped: it
// must never stop the provider from serving.
func Start(name string) (stop func()) {
	dir := os.Getenv(EnvDir)
	if dir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%d.pprof", name, os.Getpid())))
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: no cpu profile: %v\n", name, err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(os.Stderr, "%s: no cpu profile: %v\n", name, err)
		_ = f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}
}
