package cloudinit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"strings"
)

// File names and volume label of a NoCloud seed, as cloud-init looks for them.
const (
	Label             = "cidata"
	UserDataFile      = "user-data"
	MetaDataFile      = "meta-data"
	NetworkConfigFile = "network-config"
)

// ShortDigestLen is how many hex digits of the digest go into the default
// instance-id: 48 bits, enough that two seeds of one VM never meet.
const ShortDigestLen = 12

// Seed is what a VM's cloud_init block says. An empty MetaData means "the
// default" (see WithDefaultMetaData); an empty NetworkConfig means the image
// has no network-config file, so cloud-init keeps its own fallback.
type Seed struct {
	UserData      string
	MetaData      string
	NetworkConfig string
}

// Digest is the hex SHA-256 of the seed's three parts, each framed by its
// length so that moving bytes from one part to another changes it. It is
// what config_json records instead of the content.
func Digest(s Seed) string {
	h := sha256.New()
	for _, part := range []string{s.UserData, s.MetaData, s.NetworkConfig} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		h.Write(n[:])
		h.Write([]byte(part))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ShortDigest is the first ShortDigestLen hex digits of Digest.
func ShortDigest(s Seed) string {
	return Digest(s)[:ShortDigestLen]
}

// WithDefaultMetaData fills an empty MetaData with DefaultMetaData, whose
// instance-id carries the short digest of the seed as given (MetaData
// empty): a changed user_data or network_config is then a new instance for
// cloud-init at the next boot. A MetaData the user wrote is kept as it is.
func (s Seed) WithDefaultMetaData(uuid, hostname string) Seed {
	if s.MetaData == "" {
		s.MetaData = DefaultMetaData(uuid, hostname, ShortDigest(s))
	}
	return s
}

// DefaultMetaData is the meta-data the provider writes when the user gives
// none: instance-id "<uuid>-<digest>" and local-hostname. Values are plain
// YAML scalars when they are safe as such (so even a shell reading the file
// line by line gets them right), JSON-quoted otherwise.
func DefaultMetaData(uuid, hostname, digest string) string {
	id := uuid
	if digest != "" {
		id += "-" + digest
	}
	return "instance-id: " + yamlScalar(id) + "\nlocal-hostname: " + yamlScalar(hostname) + "\n"
}

var (
	plainScalarRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	// numberLikeRe catches what YAML 1.1 (cloud-init's PyYAML) would read
	// as a number rather than a string: 123, 1.5, 1e3, 0x1f, 0o7, 1_000.
	numberLikeRe = regexp.MustCompile(`^([0-9][0-9_]*(\.[0-9_]*)?([eE][-+]?[0-9]+)?|\.[0-9]+|0[xX][0-9a-fA-F_]+|0[oO][0-7_]+)$`)
)

// yamlKeywords are YAML 1.1 booleans and nulls, which a plain scalar would become.
var yamlKeywords = map[string]bool{
	"y": true, "yes": true, "n": true, "no": true, "true": true, "false": true,
	"on": true, "off": true, "null": true, "~": true,
}

// yamlScalar writes v as a plain scalar when YAML reads it back as the same
// string, and as a double-quoted one (JSON's escapes are YAML's) otherwise.
func yamlScalar(v string) string {
	if plainScalarRe.MatchString(v) && !numberLikeRe.MatchString(v) && !yamlKeywords[strings.ToLower(v)] {
		return v
	}
	b, _ := json.Marshal(v) // a string always marshals
	return string(b)
}
