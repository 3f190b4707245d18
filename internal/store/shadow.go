package store

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// Reads must work on a file that lacks some of our migrations without
// writing it (a read-only store, a CreateOnWrite store before its first
// write, a file Virtumancer made): such a file has recorded nothing of
// ours yet, so our tables read as empty. Rather than teach every query
// that a table may be missing, a read on such a file runs on a connection
// that holds TEMP copies of the tables of the pending migrations. SQLite
// resolves an unqualified name in temp before main, so every query,
// joins included, reads the empty copy; the file itself is never touched.
// Each such read first checks, inside its own snapshot, that the file's
// schema is still the one the copies stand in for: once anyone migrates
// the file, the copies would hide the real tables, so they are rebuilt or
// dropped and the read runs again. Writes always run without copies.

// shadowState is what a handle knows of its file's schema and which of its
// connections hold temp copies.
type shadowState struct {
	mu      sync.Mutex
	gen     uint64      // bumped whenever view changes
	view    schemaState // the file's schema as last seen
	pending bool        // view lacks some migration: reads need copies
	conns   map[*sqlite.Conn]uint64
}

// shadowView is the view one transaction's connection was prepared for.
type shadowView struct {
	pending bool
	view    schemaState
}

var errSchemaChanged = errors.New("the store's schema changed under a read")

func (sh *shadowState) init(st schemaState) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.view, sh.pending = st, st.pending()
	sh.gen++
}

// complete records that the file now has every migration (we applied them).
func (sh *shadowState) complete() {
	applied := map[int]string{}
	for _, m := range migrations {
		applied[m.version] = m.name
	}
	sh.init(schemaState{applied: applied})
}

// prepare gives conn the temp copies a read needs on the current view, or
// none for a write or a complete file. PostgreSQL has no copies: check
// refuses a read of a database that lacks some of our migrations.
func (sh *shadowState) prepare(s *Store, tc txConn, read bool) (shadowView, error) {
	sh.mu.Lock()
	sv := shadowView{pending: read && sh.pending, view: sh.view}
	sc, isSQLite := tc.(*sqliteConn)
	if !isSQLite {
		sh.mu.Unlock()
		return sv, nil
	}
	conn := sc.c
	built, has := sh.conns[conn]
	gen := sh.gen
	sh.mu.Unlock()
	if has && (!sv.pending || built != gen) {
		if err := dropShadow(s, conn); err != nil {
			return sv, err
		}
		sh.remember(conn, 0, false)
		has = false
	}
	if !sv.pending || has || len(sv.view.missing) > 0 {
		return sv, nil // check reports a file without Virtumancer's tables
	}
	if err := buildShadow(s, conn, sv.view); err != nil {
		return sv, errors.Join(err, dropShadow(s, conn))
	}
	sh.remember(conn, gen, true)
	return sv, nil
}

func (sh *shadowState) remember(conn *sqlite.Conn, gen uint64, has bool) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if !has {
		delete(sh.conns, conn)
		return
	}
	if sh.conns == nil {
		sh.conns = map[*sqlite.Conn]uint64{}
	}
	sh.conns[conn] = gen
}

// check runs first in a read transaction prepared with sv: it returns
// errSchemaChanged when the file no longer has the schema sv stands in
// for, and ErrNoStore when it lacks Virtumancer's own tables.
func (sh *shadowState) check(tx *Tx, sv shadowView) error {
	if !sv.pending {
		return nil
	}
	st, err := tx.schemaState()
	if err != nil {
		return err
	}
	if !sameSchema(st, sv.view) {
		sh.init(st)
		return errSchemaChanged
	}
	if len(st.missing) > 0 {
		return tx.s.errf("%w: the %s lacks Virtumancer's tables (missing %s); the first apply of a virtumancer_host creates them (or check the database %s)",
			ErrNoStore, tx.s.kind(), strings.Join(st.missing, ", "), tx.s.locationWord())
	}
	if tx.s.pg != nil && !st.hasAll() {
		// Reads never change the store, and PostgreSQL gets no temp
		// copies: such a database (migrated by an older build) is read
		// once a write, or a read-write open, has migrated it.
		return tx.s.errf("the database lacks migrations of this build (%s); reads do not change it: "+
			"the first write (an apply or a sync), or opening it read-write, applies them", pendingMigrations(st))
	}
	return nil
}

// pendingMigrations names the migrations st lacks.
func pendingMigrations(st schemaState) string {
	var names []string
	for _, m := range migrations {
		if _, ok := st.applied[m.version]; !ok {
			names = append(names, fmt.Sprintf("%d %s", m.version, m.name))
		}
	}
	return strings.Join(names, ", ")
}

func sameSchema(a, b schemaState) bool {
	return slices.Equal(a.missing, b.missing) && maps.Equal(a.applied, b.applied)
}

func buildShadow(s *Store, conn *sqlite.Conn, view schemaState) error {
	// Keep the copies in memory: they are empty, and a service sandboxed
	// without a writable temp directory must still read.
	if err := sqlitex.ExecuteTransient(conn, "PRAGMA temp_store = MEMORY", nil); err != nil {
		return s.sqlErr("keep temp copies in memory", err)
	}
	created := map[string]bool{}
	for _, m := range migrations {
		if _, ok := view.applied[m.version]; ok {
			continue
		}
		stmts, err := shadowStmts(m, created)
		if err != nil {
			return s.errf("%w; the first write (an apply or a sync) applies it", err)
		}
		for _, stmt := range stmts {
			if err := sqlitex.ExecuteTransient(conn, stmt, nil); err != nil {
				return s.sqlErr(fmt.Sprintf("stand in for migration %d (%s)", m.version, m.name), err)
			}
		}
	}
	return nil
}

// dropShadow removes every temp table of conn (only copies live there).
func dropShadow(s *Store, conn *sqlite.Conn) error {
	var names []string
	err := sqlitex.ExecuteTransient(conn, "SELECT name FROM sqlite_temp_master WHERE type = 'table'",
		&sqlitex.ExecOptions{ResultFunc: func(r *sqlite.Stmt) error { names = append(names, r.ColumnText(0)); return nil }})
	for _, n := range names {
		if err != nil {
			break
		}
		err = sqlitex.ExecuteTransient(conn, `DROP TABLE temp."`+strings.ReplaceAll(n, `"`, `""`)+`"`, nil)
	}
	return s.sqlErr("drop temp copies of pending tables", err)
}

var (
	reCreateTable = regexp.MustCompile(`(?is)^\s*CREATE\s+TABLE\s+((?:IF\s+NOT\s+EXISTS\s+)?)([^\s(]+)`)
	reCreateIndex = regexp.MustCompile(`(?is)^\s*CREATE\s+(?:UNIQUE\s+)?INDEX\b`)
	reInsert      = regexp.MustCompile(`(?is)^\s*INSERT\s+(?:OR\s+\w+\s+)?INTO\s+([^\s(]+)`)
	reAlter       = regexp.MustCompile(`(?is)^\s*ALTER\s+TABLE\s+([^\s(]+)`)
)

// shadowStmts turns migration m into statements that build its tables in
// temp and never write the file: CREATE TABLE becomes CREATE TEMP TABLE,
// indexes are left out (empty copies need none), and INSERT or ALTER TABLE
// may only touch tables made in temp (created collects them). Anything else
// cannot be stood in for: then reads fail until the first write migrates.
func shadowStmts(m migration, created map[string]bool) ([]string, error) {
	var out []string
	for _, stmt := range m.stmts {
		switch {
		case reCreateTable.MatchString(stmt):
			sm := reCreateTable.FindStringSubmatch(stmt)
			created[unquote(sm[2])] = true
			out = append(out, "CREATE TEMP TABLE "+sm[1]+stmt[len(sm[0])-len(sm[2]):])
		case reCreateIndex.MatchString(stmt):
		case reInsert.MatchString(stmt) && created[unquote(reInsert.FindStringSubmatch(stmt)[1])]:
			out = append(out, stmt)
		case reAlter.MatchString(stmt) && created[unquote(reAlter.FindStringSubmatch(stmt)[1])]:
			sm := reAlter.FindStringSubmatch(stmt)
			out = append(out, "ALTER TABLE temp."+sm[1]+stmt[len(sm[0]):])
		default:
			return nil, fmt.Errorf("migration %d (%s) is not applied to this file yet and a read cannot stand in for its statement %q",
				m.version, m.name, firstWords(stmt, 6))
		}
	}
	return out, nil
}

func unquote(name string) string {
	return strings.Trim(name, "`\"[]")
}

func firstWords(s string, n int) string {
	f := strings.Fields(s)
	if len(f) > n {
		f = append(f[:n], "...")
	}
	return strings.Join(f, " ")
}
