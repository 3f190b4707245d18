package cloudinit

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kdomanski/iso9660"
)

// readBack opens img with the library's reader and returns its label and
// every file in the root directory by name.
func readBack(t testing.TB, img []byte) (string, map[string]string) {
	t.Helper()
	image, err := iso9660.OpenImage(bytes.NewReader(img))
	if err != nil {
		t.Fatalf("open built image: %v", err)
	}
	label, err := image.Label()
	if err != nil {
		t.Fatalf("read label: %v", err)
	}
	root, err := image.RootDir()
	if err != nil {
		t.Fatalf("read root directory: %v", err)
	}
	children, err := root.GetChildren()
	if err != nil {
		t.Fatalf("list root directory: %v", err)
	}
	got := map[string]string{}
	for _, c := range children {
		if c.IsDir() {
			t.Errorf("unexpected directory %q in the seed", c.Name())
			continue
		}
		data, err := io.ReadAll(c.Reader())
		if err != nil {
			t.Fatalf("read %s: %v", c.Name(), err)
		}
		got[c.Name()] = string(data)
	}
	return label, got
}

func mustBuild(t testing.TB, s Seed) []byte {
	t.Helper()
	img, err := Build(s)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return img
}

func TestBuildReadsBack(t *testing.T) {
	meta := DefaultMetaData("0b4f0e8e-0b6b-4c2e-9c59-6d3a8f1e2a10", "web-1", "abcdef012345")
	tests := []struct {
		name string
		seed Seed
		want map[string]string
	}{
		{
			name: "user and meta data only",
			seed: Seed{UserData: "#cloud-config\nhostname: web-1\n", MetaData: meta},
			want: map[string]string{"user-data": "#cloud-config\nhostname: web-1\n", "meta-data": meta},
		},
		{
			name: "with network config",
			seed: Seed{UserData: "#!/bin/sh\necho hi\n", MetaData: meta, NetworkConfig: "version: 2\nethernets:\n  eth0:\n    dhcp4: true\n"},
			want: map[string]string{
				"user-data": "#!/bin/sh\necho hi\n", "meta-data": meta,
				"network-config": "version: 2\nethernets:\n  eth0:\n    dhcp4: true\n",
			},
		},
		{
			name: "empty user data is still a file",
			seed: Seed{MetaData: meta},
			want: map[string]string{"user-data": "", "meta-data": meta},
		},
		{
			// Several sectors with a partial last one: the padding must not
			// leak into what a reader sees.
			name: "user data at the size limit",
			seed: Seed{UserData: limitUserData(), MetaData: meta},
			want: map[string]string{"user-data": limitUserData(), "meta-data": meta},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			label, got := readBack(t, mustBuild(t, tt.seed))
			if label != Label {
				t.Errorf("label = %q, want %q", label, Label)
			}
			if !slices.Equal(slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(tt.want))) {
				t.Fatalf("files = %v, want %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(tt.want)))
			}
			for name, want := range tt.want {
				if got[name] != want {
					t.Errorf("%s: got %d bytes, want %d bytes; contents differ", name, len(got[name]), len(want))
				}
			}
		})
	}
}

// limitUserData is exactly MaxPartBytes long and not a multiple of a sector
// when the header is counted, with varying bytes so a misplaced sector shows.
func limitUserData() string {
	var b strings.Builder
	b.WriteString("#cloud-config\n")
	for i := 0; b.Len() < MaxPartBytes; i++ {
		b.WriteByte(byte('a' + i%26))
	}
	return b.String()[:MaxPartBytes-7]
}

func TestBuildIsDeterministic(t *testing.T) {
	s := Seed{UserData: "#cloud-config\n", NetworkConfig: "version: 1\n"}.WithDefaultMetaData("uuid-1", "det")
	first := mustBuild(t, s)
	// The writer reads the clock to hundredths of a second: wait past that.
	time.Sleep(30 * time.Millisecond)
	second := mustBuild(t, s)
	if !bytes.Equal(first, second) {
		t.Fatalf("two builds of the same seed differ (%d and %d bytes)", len(first), len(second))
	}
	pvd := first[pvdOffset : pvdOffset+sectorSize]
	if got := strings.TrimRight(string(pvd[systemIDField:systemIDField+systemIDLength]), " "); got != pinnedSystemID {
		t.Errorf("system identifier = %q, want %q", got, pinnedSystemID)
	}
	for _, off := range []int{creationField, modifiedField, effectiveField} {
		if got := string(pvd[off : off+17]); got != "0000000000000000\x00" {
			t.Errorf("volume date at %d = %q, want ECMA-119's unspecified date", off, got)
		}
	}
	assertEpochDates(t, first)
}

// assertEpochDates checks, through the library's reader, that the root and
// each file are dated 1970-01-01 UTC.
func assertEpochDates(t *testing.T, img []byte) {
	t.Helper()
	image, err := iso9660.OpenImage(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	root, err := image.RootDir()
	if err != nil {
		t.Fatal(err)
	}
	children, err := root.GetAllChildren() // with "." and ".."
	if err != nil {
		t.Fatal(err)
	}
	epoch := time.Unix(0, 0).UTC()
	for _, f := range append(children, root) {
		if !f.ModTime().Equal(epoch) {
			t.Errorf("%q is dated %v, want %v", f.Name(), f.ModTime(), epoch)
		}
	}
	if len(children) != 5 {
		t.Errorf("root holds %d records, want 5 (., .., three files)", len(children))
	}
}

func TestBuildChangesWithContent(t *testing.T) {
	meta := "instance-id: i-1\n"
	a := mustBuild(t, Seed{UserData: "#cloud-config\n", MetaData: meta})
	b := mustBuild(t, Seed{UserData: "#cloud-config\n#x\n", MetaData: meta})
	if bytes.Equal(a, b) {
		t.Fatal("different user data built the same image")
	}
}

func TestBuildRefuses(t *testing.T) {
	tests := []struct {
		name string
		seed Seed
		want error
		msg  string
	}{
		{"invalid seed", Seed{UserData: "hostname: x\n", MetaData: "instance-id: i\n"}, ErrInvalidSeed, "user_data: its first line"},
		{"no meta data", Seed{UserData: "#cloud-config\n"}, nil, "call WithDefaultMetaData first"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := Build(tt.seed)
			if err == nil {
				t.Fatalf("Build accepted %+v", tt.seed)
			}
			if img != nil {
				t.Errorf("Build returned %d bytes with its error", len(img))
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %v does not wrap %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.msg) || !strings.HasPrefix(err.Error(), "cloudinit: ") {
				t.Errorf("error = %q, want the cloudinit: prefix and %q", err, tt.msg)
			}
		})
	}
}

func TestPinVolumeDescriptorRefusesOtherLayouts(t *testing.T) {
	if err := pinVolumeDescriptor(make([]byte, 100)); err == nil || !strings.Contains(err.Error(), "too short") {
		t.Errorf("short image: err = %v, want too short", err)
	}
	if err := pinVolumeDescriptor(make([]byte, pvdOffset+sectorSize)); err == nil || !strings.Contains(err.Error(), "sector 16") {
		t.Errorf("zeroed image: err = %v, want no descriptor at sector 16", err)
	}
	img := mustBuild(t, Seed{UserData: "#cloud-config\n", MetaData: okMeta})
	root := img[pvdOffset+rootRecordField:]
	root[10], root[11], root[12], root[13] = 0xff, 0xff, 0xff, 0x7f // extent length past the image
	if err := pinVolumeDescriptor(img); err == nil || !strings.Contains(err.Error(), "outside the") {
		t.Errorf("root extent past the end: err = %v, want it refused", err)
	}
}

// FuzzBuild: whatever valid seed Build accepts reads back byte for byte.
func FuzzBuild(f *testing.F) {
	f.Add("", "", "")
	f.Add("packages: [vim]\n", "public-keys: []\n", "config: disabled\n")
	f.Add(strings.Repeat("x", 5000), "a: b\n", "ethernets: {}\n")
	f.Fuzz(func(t *testing.T, user, extraMeta, extraNet string) {
		s := Seed{
			UserData:      "#cloud-config\n" + user,
			MetaData:      "instance-id: fuzz\n" + extraMeta,
			NetworkConfig: "version: 2\n" + extraNet,
		}
		if Validate(s) != nil {
			return
		}
		_, got := readBack(t, mustBuild(t, s))
		want := map[string]string{UserDataFile: s.UserData, MetaDataFile: s.MetaData, NetworkConfigFile: s.NetworkConfig}
		if !maps.Equal(got, want) {
			t.Fatalf("read back differs from the seed")
		}
	})
}
