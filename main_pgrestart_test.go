package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/pgtest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
)

// TestAccApplySurvivesPostgresRestart: PostgreSQL (a private cluster, the
// store of the apply) is restarted while an apply creates 20 VMs, once
// some of their rows exist. Either the apply completes, the store's retry
// riding the restart out, or it fails with a store error that says what
// happened; the test logs which. Then a second apply converges with no
// manual step and the store, the state and libvirt hold the same 20 VMs.
// Run with the pinned OpenTofu and, when one is on PATH, with terraform.
func TestAccApplySurvivesPostgresRestart(t *testing.T) {
	acctest.PreCheck(t)
	c := pgtest.StartCluster(t)
	clis := []string{os.Getenv("TF_ACC_TERRAFORM_PATH")}
	if tf, err := exec.LookPath("terraform"); err == nil && tf != clis[0] {
		clis = append(clis, tf)
	}
	dir := t.TempDir()
	binary, rc := buildProvider(t, dir)
	for _, cli := range clis {
		t.Run(filepath.Base(cli), func(t *testing.T) {
			r := newResumeRunNamed(t, cli, binary, rc, "pgf-apply")
			r.db = c.URL() // every run has its own host id, so they share the database
			outcome := r.restartPostgresMidApply(c)
			t.Logf("the apply during the restart %s", outcome)
			start := time.Now()
			out := r.run("apply", "-auto-approve", "-input=false", "-no-color")
			t.Logf("the apply after the restart converged in %s", time.Since(start).Round(100*time.Millisecond))
			r.agree(out)
		})
	}
}

// restartPostgresMidApply starts the apply one VM at a time, restarts
// PostgreSQL once a quarter of the rows exist, waits for the apply to end
// and says how it ended. A failure must be a store error naming the
// lost connection, not a crash of the provider.
func (r *resumeRun) restartPostgresMidApply(c *pgtest.Cluster) string {
	t := r.t
	a := r.startSlowApply()
	exited, out := a.exited, &a.out
	st, err := store.Open(r.db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows := 0
	r.waitMidApply(a, "a quarter of the rows existed", func() bool {
		vms, err := st.ListVMs(t.Context(), r.prefix)
		if err != nil && !store.Absent(err) {
			t.Fatal(err)
		}
		rows = len(vms)
		return rows >= resumeVMs/4
	})
	c.Restart()
	t.Logf("PostgreSQL restarted with %d of %d rows written", rows, resumeVMs)
	var err2 error
	select {
	case err2 = <-exited:
	case <-time.After(3 * time.Minute):
		t.Fatalf("the apply did not end within 3m of the restart:\n%s", out.String())
	}
	text := out.String()
	for _, bad := range []string{"panic", "Plugin did not respond", "plugin exited", "xxxxx@"} {
		if strings.Contains(text, bad) {
			t.Errorf("the apply during the restart printed %q:\n%s", bad, text)
		}
	}
	if err2 == nil {
		return "completed: the store's retry rode the restart out"
	}
	if !strings.Contains(text, "store postgres://") || !strings.Contains(text, "PostgreSQL") {
		t.Errorf("the apply during the restart failed (%v) without a store error naming PostgreSQL:\n%s", err2, text)
	}
	return "failed with a store error: " + firstError(text)
}

// firstError is the first "Error:" line of a CLI's output.
func firstError(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if i := strings.Index(l, "Error: "); i >= 0 {
			return strings.TrimSpace(l[i:])
		}
	}
	return "(no Error: line)"
}
