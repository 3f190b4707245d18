package resources_test

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/jackc/pgx/v5"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/pgtest"
)

// TestAccPostgres_hostAndTwoVMs: the provider with `database` set to a
// PostgreSQL URL: a host on the test driver and two VMs apply, plan empty
// afterwards, show as rows in PostgreSQL (read with plain SQL, not through
// the store), and destroy soft-deletes the VM rows and removes the host row.
func TestAccPostgres_hostAndTwoVMs(t *testing.T) {
	acctest.PreCheck(t)
	e := newVMEnv(t, acctest.TestURI)
	e.db = pgtest.NewDatabase(t, "acc")
	a, b := e.name(), e.name()
	cfg := e.hostHCL()
	for i, n := range []string{a, b} {
		cfg += fmt.Sprintf(`
resource "virtumancer_vm" "v%d" {
  host_id = virtumancer_host.h.id
  name    = %q
  memory  = %d
  vcpu    = 1
}
`, i, n, 64*(i+1))
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: cfg, Check: pgRows(t, e.db, map[string]int64{a: 64 * 1024, b: 128 * 1024}, 1)},
			{Config: cfg, ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}},
		},
		CheckDestroy: pgRows(t, e.db, map[string]int64{}, 0),
	})
}

// pgRows checks the store's rows in PostgreSQL: the live VM rows of host h
// with their config_json memory (KiB), and how many host rows there are.
func pgRows(t *testing.T, u string, want map[string]int64, hosts int) resource.TestCheckFunc {
	return func(*terraform.State) error {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, u)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM hosts WHERE id = 'h'").Scan(&n); err != nil {
			return err
		}
		if n != hosts {
			return fmt.Errorf("host rows = %d, want %d", n, hosts)
		}
		rows, err := conn.Query(ctx, "SELECT name, (config_json::jsonb->>'memory')::bigint FROM virtual_machines "+
			"WHERE host_id = 'h' AND deleted_at IS NULL AND created_at IS NOT NULL AND updated_at >= created_at")
		if err != nil {
			return err
		}
		got := map[string]int64{}
		for rows.Next() {
			var name string
			var mem int64
			if err := rows.Scan(&name, &mem); err != nil {
				return err
			}
			got[name] = mem
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("live VM rows in PostgreSQL = %v, want %v", got, want)
		}
		return nil
	}
}

// TestAccPostgres_dataSourceOnEmptyDatabase: a data source on a database
// without Virtumancer's tables is an error naming the database (password
// redacted) and what creates the tables; the plan creates nothing.
func TestAccPostgres_dataSourceOnEmptyDatabase(t *testing.T) {
	acctest.PreCheck(t)
	u := pgtest.NewDatabase(t, "acc")
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	pu.User = url.UserPassword(pu.User.Username(), "s3cret-pw")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      acctest.ProviderConfig(pu.String()) + "\ndata \"virtumancer_hosts\" \"all\" {}\n",
			PlanOnly:    true,
			ExpectError: regexp.MustCompile(`(?s)No Virtumancer store.*:xxxxx@.*no\s+Virtumancer\s+tables\s+yet.*first\s+apply\s+of\s+a\s+virtumancer_host`),
		}},
	})
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()").Scan(&n); err != nil || n != 0 {
		t.Fatalf("tables after a plan: %d (%v), want none", n, err)
	}
}
