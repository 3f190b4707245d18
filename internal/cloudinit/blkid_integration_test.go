package cloudinit

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestIntegrationBlkidReadsSeed asks util-linux's blkid, the probe that
// cloud-init uses to find a NoCloud seed by its label, what the image is.
// It needs a tool from outside the module, so it sits behind the
// integration gate; it fails rather than skips when blkid is missing.
func TestIntegrationBlkidReadsSeed(t *testing.T) {
	blkid, err := exec.LookPath("blkid")
	if err != nil {
		t.Fatalf("blkid not found on PATH (%v): install util-linux, which scripts/testenv.sh expects", err)
	}
	img := mustBuild(t, Seed{UserData: "#cloud-config\n", NetworkConfig: "version: 2\n"}.WithDefaultMetaData("u-1", "blkid"))
	path := filepath.Join(t.TempDir(), "seed.iso")
	if err := os.WriteFile(path, img, 0o600); err != nil {
		t.Fatal(err)
	}
	// -p probes the file itself, bypassing blkid's cache.
	out, err := exec.Command(blkid, "-p", "-o", "export", path).CombinedOutput()
	if err != nil {
		t.Fatalf("blkid -p %s: %v\n%s", path, err, out)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			got[k] = v
		}
	}
	if got["TYPE"] != "iso9660" || got["LABEL"] != Label {
		t.Errorf("blkid says TYPE=%q LABEL=%q, want iso9660 and %q; full output:\n%s", got["TYPE"], got["LABEL"], Label, out)
	}
}
