package store_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/pgtest"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/storetest/virtumancer"
)

// TestIntegrationPostgresSchemaIsGORMs: Virtumancer's two models
// AutoMigrated by gorm.io/driver/postgres into one database, and our Open
// into another, give the same columns (name, type, nullability, default)
// and indexes (names and definitions); GORM's AutoMigrate then finds
// nothing to change in ours. Our own tables come from our migrations, all
// recorded, with the change feed's triggers.
func TestIntegrationPostgresSchemaIsGORMs(t *testing.T) {
	gormURL, oursURL := pgtest.NewDatabase(t, "gormschema"), pgtest.NewDatabase(t, "ourschema")
	autoMigrate(t, gormURL)
	s, err := store.Open(oursURL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	want, got := describe(t, gormURL), describe(t, oursURL)
	if !slices.Equal(got, want) {
		t.Fatalf("our schema differs from GORM's:\nours:\n  %s\nGORM's:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	autoMigrate(t, oursURL)
	if again := describe(t, oursURL); !slices.Equal(again, got) {
		t.Fatalf("GORM's AutoMigrate changed our schema:\nbefore:\n  %s\nafter:\n  %s", strings.Join(got, "\n  "), strings.Join(again, "\n  "))
	}
	ours := strings.Join(queryStrings(t, oursURL, "SELECT version || ' ' || name FROM vmsync_migrations ORDER BY version"), ", ")
	if ours != "1 sync status tables, 2 vmsync_recorded, 3 vmsync_replicas" {
		t.Fatalf("vmsync_migrations = %s", ours)
	}
	triggers := queryStrings(t, oursURL, "SELECT event_object_table FROM information_schema.triggers "+
		"WHERE trigger_name = 'vmsync_notify' AND event_manipulation = 'INSERT' ORDER BY 1")
	if want := []string{"hosts", "virtual_machines", "vmsync_host_status", "vmsync_recorded", "vmsync_vm_status"}; !slices.Equal(triggers, want) {
		t.Fatalf("change feed triggers on %v, want %v", triggers, want)
	}
}

func autoMigrate(t *testing.T, u string) {
	t.Helper()
	db, err := gorm.Open(postgres.Open(u), &gorm.Config{Logger: logger.Default.LogMode(logger.Silent)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if sqlDB, err := db.DB(); err == nil {
			_ = sqlDB.Close()
		}
	}()
	if err := db.AutoMigrate(&virtumancer.Host{}, &virtumancer.VirtualMachine{}); err != nil {
		t.Fatalf("GORM AutoMigrate: %v", err)
	}
}

// describe lists the columns and indexes of Virtumancer's tables, one line
// each, with the schema name taken out of index definitions.
func describe(t *testing.T, u string) []string {
	t.Helper()
	cols := queryStrings(t, u, "SELECT table_name || '.' || column_name || ' ' || data_type || ' null=' || is_nullable || "+
		"' default=' || coalesce(column_default, '') FROM information_schema.columns "+
		"WHERE table_schema = current_schema() AND table_name IN ('hosts', 'virtual_machines') ORDER BY table_name, ordinal_position")
	idx := queryStrings(t, u, "SELECT indexname || ': ' || replace(indexdef, current_schema() || '.', '') FROM pg_indexes "+
		"WHERE schemaname = current_schema() AND tablename IN ('hosts', 'virtual_machines') ORDER BY indexname")
	if len(cols) != 9 || len(idx) != 4 {
		t.Fatalf("%d columns and %d indexes, want 9 and 4:\n%s", len(cols), len(idx), strings.Join(append(cols, idx...), "\n"))
	}
	return append(cols, idx...)
}

func queryStrings(t *testing.T, u, q string) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}
