package testguest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// SeedLabel is the NoCloud volume label the guest looks for.
const SeedLabel = "cidata"

// Seed is the content of a NoCloud seed. The guest reads the seed only when
// it has a meta-data file, so MetaData is always written (empty when unset).
type Seed struct {
	MetaData      string
	UserData      string
	NetworkConfig string
}

// MetaData is a NoCloud meta-data document with an instance-id and a
// local-hostname, the two keys the guest applies.
func MetaData(instanceID, hostname string) string {
	return fmt.Sprintf("instance-id: %s\nlocal-hostname: %s\n", instanceID, hostname)
}

// Files maps NoCloud file names to their content: meta-data always,
// user-data and network-config when set.
func (s Seed) Files() map[string]string {
	files := map[string]string{"meta-data": s.MetaData}
	if s.UserData != "" {
		files["user-data"] = s.UserData
	}
	if s.NetworkConfig != "" {
		files["network-config"] = s.NetworkConfig
	}
	return files
}

// seedKiB sizes the FAT image: twice the content, at least 2 MiB, so
// mkfs.vfat always has room for its tables.
func (s Seed) seedKiB() int {
	n := 0
	for _, c := range s.Files() {
		n += len(c)
	}
	return max(2048, 2*n/1024+1024)
}

// WriteSeed writes s as a raw FAT image at path, labelled cidata, with
// mkfs.vfat (dosfstools) and mcopy (mtools), which scripts/testguest.sh
// installs. Attach it as a read-only disk (virtio, scsi or sata).
func WriteSeed(path string, s Seed) error {
	dir, err := os.MkdirTemp(filepath.Dir(path), ".seed-")
	if err != nil {
		return fmt.Errorf("testguest: seed %s: %w", path, err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	args := []string{"-i", path}
	for name, content := range s.Files() {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
			return fmt.Errorf("testguest: seed %s: %w", path, err)
		}
		args = append(args, f)
	}
	_ = os.Remove(path) // mkfs.vfat -C refuses an existing file
	if err := run("mkfs.vfat", "-C", "-n", SeedLabel, path, fmt.Sprint(s.seedKiB())); err != nil {
		return fmt.Errorf("testguest: seed %s: %w", path, err)
	}
	if err := run("mcopy", append(args, "::/")...); err != nil {
		return fmt.Errorf("testguest: seed %s: %w", path, err)
	}
	return nil
}

// SeedImage is WriteSeed for a test: it returns path, or fails the test
// with the fix when the tools are missing.
func SeedImage(t testing.TB, path string, s Seed) string {
	t.Helper()
	if err := WriteSeed(path, s); err != nil {
		t.Fatalf("%v; %s", err, FixHint)
	}
	return path
}

// run runs a quick local tool; a minute is far more than it needs.
func run(name string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}
