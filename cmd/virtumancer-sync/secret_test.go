package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/httpapi"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/observe"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/syncer/syncertest"
)

// A URI another writer stored with a password (port 1: nothing listens).
const (
	secretURI   = "qemu+libssh://root:hunter2@127.0.0.1:1/system?sshauth=password&known_hosts_verify=ignore"
	redactedURI = "qemu+libssh://root:xxxxx@127.0.0.1:1/system?sshauth=password&known_hosts_verify=ignore"
)

// TestIntegrationSecretURIRedacted: the hosts and drift APIs, the logs,
// --once and drift show a stored URI's password as xxxxx, never in clear.
func TestIntegrationSecretURIRedacted(t *testing.T) {
	requireDaemon(t)
	st := syncertest.NewStore(t, store.Host{ID: "test", URI: testURI}, store.Host{ID: "secret", URI: secretURI})
	d := startDaemon(t, st.Path(), nil)
	var hosts string
	syncertest.Eventually(t, 20*time.Second, "/api/v1/hosts shows the secret host's error", func() (bool, string) {
		code, body := d.get("/api/v1/hosts", "")
		hosts = body
		var r httpapi.HostsResponse
		if code != http.StatusOK || json.Unmarshal([]byte(body), &r) != nil {
			return false, body
		}
		for _, h := range r.Hosts {
			if h.ID == "secret" && h.URI == redactedURI && h.LastError != "" {
				return true, body
			}
		}
		return false, body
	})
	_, drift := d.get("/api/v1/drift", "")
	var report observe.Report
	if err := json.Unmarshal([]byte(drift), &report); err != nil || !strings.Contains(fmt.Sprint(report), redactedURI) {
		t.Errorf("/api/v1/drift does not name the unchecked host by its redacted URI: %s", drift)
	}
	d.stop(sigterm)
	once := runCLI(t, nil, "--once", "--database", st.Path())
	driftCmd := runCLI(t, nil, "drift", "--database", st.Path())
	for name, out := range map[string]string{
		"/api/v1/hosts": hosts, "/api/v1/drift": drift, "daemon logs": d.output(),
		"--once": once.stdout + once.stderr, "drift": driftCmd.stdout + driftCmd.stderr,
	} {
		if strings.Contains(out, "hunter2") {
			t.Errorf("%s shows the password: %s", name, out)
		}
	}
	if !strings.Contains(once.stdout, "host secret ("+redactedURI+"): FAILED") {
		t.Errorf("--once: %q", once.stdout)
	}
}
