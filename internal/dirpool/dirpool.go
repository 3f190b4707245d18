// Package dirpool is the pure core of directory storage pools: the rules
// for a pool's name and path, the pool XML the provider defines, reading
// back what a host reports, and the MiB the schema shows. It knows nothing
// of Terraform or RPC; internal/hypervisor sends what it builds.
package dirpool

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"libvirt.org/go/libvirtxml"
)

// Type is the only libvirt pool type this package builds.
const Type = "dir"

const bytesPerMiB = 1 << 20

// Spec is a directory pool to define.
type Spec struct {
	Name string
	Path string // absolute and clean; created on the host when missing
}

// Check reports the first rule spec breaks.
func (s Spec) Check() error {
	if err := CheckName(s.Name); err != nil {
		return err
	}
	return CheckPath(s.Path)
}

// CheckName: libvirt refuses pool names with '/', and an empty one
// cannot be looked up.
func CheckName(name string) error {
	switch {
	case name == "":
		return errors.New("the pool name must not be empty")
	case strings.Contains(name, "/"):
		return fmt.Errorf("the pool name %q contains '/'; use a plain name such as \"images\"", name)
	}
	return checkText("name", name)
}

// checkText refuses what XML cannot carry: invalid UTF-8 and control
// characters (found by FuzzSpec: they do not read back as written).
func checkText(what, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("the pool %s %q is not valid UTF-8", what, s)
	}
	if i := strings.IndexFunc(s, unicode.IsControl); i >= 0 {
		return fmt.Errorf("the pool %s %q contains a control character at byte %d", what, s, i)
	}
	return nil
}

// CheckPath accepts absolute, clean paths other than "/". It insists on
// the clean form because libvirt stores the path sanitised: "/a/b/" would
// read back as "/a/b" and show as a change on every plan.
func CheckPath(p string) error {
	switch {
	case p == "":
		return errors.New("the pool path must not be empty; use an absolute directory such as \"/var/lib/libvirt/pools/images\"")
	case !filepath.IsAbs(p):
		return fmt.Errorf("the pool path %q is relative; libvirtd resolves paths on the host, so use an absolute one such as %q", p, filepath.Join("/var/lib/libvirt/pools", p))
	case p == "/":
		return errors.New("the pool path must not be \"/\"; use a directory of its own")
	case filepath.Clean(p) != p:
		return fmt.Errorf("the pool path %q is not in its clean form; use %q", p, filepath.Clean(p))
	}
	return checkText("path", p)
}

// XML is the definition of spec's pool, after Check.
func (s Spec) XML() (string, error) {
	if err := s.Check(); err != nil {
		return "", err
	}
	x := libvirtxml.StoragePool{
		Type:   Type,
		Name:   s.Name,
		Target: &libvirtxml.StoragePoolTarget{Path: s.Path},
	}
	return x.Marshal()
}

// Definition is what a pool's XML says about it.
type Definition struct {
	Name, UUID, Type, Path string
}

// Parse reads a pool's XML as virStoragePoolGetXMLDesc returns it.
func Parse(doc string) (Definition, error) {
	var x libvirtxml.StoragePool
	if err := x.Unmarshal(doc); err != nil {
		return Definition{}, fmt.Errorf("dirpool: parse pool xml: %w", err)
	}
	d := Definition{Name: x.Name, UUID: x.UUID, Type: x.Type}
	if x.Target != nil {
		d.Path = x.Target.Path
	}
	return d, nil
}

// MiB converts bytes to whole MiB, rounding down, so `available` never
// promises space the pool does not have.
func MiB(bytes uint64) int64 {
	return int64(bytes / bytesPerMiB)
}
