package main

import (
	"net/url"
	"strings"
	"testing"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/pgtest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/syncer/syncertest"
)

// TestIntegrationPostgresOnceAndDrift: virtumancer-sync on a PostgreSQL
// URL (from the environment, with a password the trust cluster ignores):
// --once syncs the host into PostgreSQL, an unknown --host gets a psql hint,
// drift reads it; the password shows nowhere in the output.
func TestIntegrationPostgresOnceAndDrift(t *testing.T) {
	requireDaemon(t)
	pgtest.Require(t)
	st, u := syncertest.NewPostgresStore(t, store.Host{ID: "qemu", URI: qemuURI})
	v := syncertest.DefineVM(t, syncertest.Dial(t, qemuURI), qemuURI, syncertest.Name("pgonce"), 64)
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	const secret = "s3cret-pw"
	pu.User = url.UserPassword(pu.User.Username(), secret)
	env := []string{envDatabase + "=" + pu.String()}
	quiet := func(what string, res result) {
		t.Helper()
		if strings.Contains(res.stdout+res.stderr, secret) {
			t.Errorf("%s printed the password: %s%s", what, res.stdout, res.stderr)
		}
	}

	res := runCLI(t, env, "--once")
	quiet("--once", res)
	if res.code != exitOK || !strings.Contains(res.stdout, "1 of 1 hosts synced") {
		t.Errorf("--once: exit %d, stdout %q", res.code, res.stdout)
	}
	if r, ok := syncertest.Row(t, st, "qemu", v.Name()); !syncertest.Live(r, ok) {
		t.Errorf("after --once: %s", syncertest.Describe(r, ok))
	}
	res = runCLI(t, env, "--once", "--host", "typo")
	quiet("--once --host typo", res)
	if res.code != exitError || !strings.Contains(res.stderr, "psql '") {
		t.Errorf("--once --host typo: exit %d, stderr %q; want a psql hint", res.code, res.stderr)
	}
	res = runCLI(t, env, "drift")
	quiet("drift", res)
	if res.code != exitOK {
		t.Errorf("drift: exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
}
