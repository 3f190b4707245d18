// Package hypervisor is the libvirt client layer: it parses and validates
// host URIs, keeps one shared go-libvirt connection per URI (re-dialled when
// it drops), and wraps the RPCs the provider and the sync service need with
// a per-call timeout and errors that name the host. It knows nothing of
// Terraform or SQLite.
//
// go-libvirt has no contexts and no timeouts, so every RPC here runs in its
// own goroutine under a timer. A call that outlives Options.CallTimeout marks
// its connection broken (the socket is closed, which fails every RPC still
// waiting on it) so the next use dials afresh instead of queueing behind a
// hung daemon.
package hypervisor

import (
	"errors"
	"fmt"
	"time"
)

// PasswordEnv names the environment variable with the ssh password for
// hosts that have none of their own (sshauth=password).
const PasswordEnv = "VIRTUMANCER_SSH_PASSWORD"

// Defaults for Options.
const (
	DefaultCallTimeout = 30 * time.Second
	DefaultDialTimeout = 10 * time.Second
)

// Options configure a Pool. The zero value is usable.
type Options struct {
	// CallTimeout bounds every RPC (default 30s). A call that exceeds it
	// returns ErrTimeout and closes the connection so it is re-dialled.
	CallTimeout time.Duration
	// DialTimeout bounds connecting: dial, ssh/tls handshake and the
	// libvirt connect-open exchange (default 10s).
	DialTimeout time.Duration
	// KnownHostsFile is used by ssh transports when the URI names none
	// (default ~/.ssh/known_hosts). Host keys are always verified unless
	// the URI opts out explicitly.
	KnownHostsFile string
	// KeyFile is the ssh private key used when the URI has no keyfile=
	// (default: the first of ~/.ssh/{identity,id_dsa,id_ecdsa,id_ed25519,id_rsa}).
	KeyFile string
	// SSHPasswords are the ssh passwords by host id, for sshauth=password;
	// see sshPassword for the order of the sources.
	SSHPasswords map[string]string
	// Logger receives connection lifecycle messages with key/value pairs.
	// nil means silent. URIs passed to it are always redacted.
	Logger func(msg string, kv ...any)
}

func (o Options) withDefaults() Options {
	if o.CallTimeout <= 0 {
		o.CallTimeout = DefaultCallTimeout
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	return o
}

// Sentinel errors; test with errors.Is.
var (
	ErrDomainNotFound = errors.New("domain not found")
	ErrVolumeNotFound = errors.New("storage volume not found")
	ErrPoolNotFound   = errors.New("storage pool not found")
	ErrVolumeExists   = errors.New("storage volume already exists")
	// ErrUnsupported: the driver does not implement the call
	// (VIR_ERR_NO_SUPPORT), e.g. volume upload on the test driver.
	ErrUnsupported = errors.New("not supported by this libvirt driver")
	// ErrTimeout: libvirtd did not answer within CallTimeout (or the dial
	// within DialTimeout). The connection has been closed.
	ErrTimeout = errors.New("timeout")
	// ErrConnectionLost: the connection dropped while a call was in flight.
	ErrConnectionLost = errors.New("connection to libvirtd lost")
	// ErrPoolClosed: the Pool was closed.
	ErrPoolClosed = errors.New("connection pool closed")
)

// IsNotFound reports whether err says a domain, volume or pool does not exist.
func IsNotFound(err error) bool {
	return errors.Is(err, ErrDomainNotFound) || errors.Is(err, ErrVolumeNotFound) ||
		errors.Is(err, ErrPoolNotFound)
}

// OpError is the error every Conn method returns: it names the host id, the
// redacted URI and the operation, and wraps the cause.
type OpError struct {
	HostID string
	URI    string // redacted
	Op     string
	Err    error
}

func (e *OpError) Error() string {
	return fmt.Sprintf("host %q (%s): %s: %v", e.HostID, e.URI, e.Op, e.Err)
}

func (e *OpError) Unwrap() error { return e.Err }
