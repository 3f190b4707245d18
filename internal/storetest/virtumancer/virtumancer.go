// Package virtumancer is a second writer for tests that behaves like
// Virtumancer c7717fe on the same store file: GORM with Virtumancer's two
// models, AutoMigrate when it opens the file, and the FirstOrCreate/Assign
// then prune that its syncAndListVMs runs every time its UI lists a host's
// VMs (rewriting config_json with the live domain, soft-deleting rows of
// domains it no longer sees).
//
// It uses the pure-Go github.com/glebarez/sqlite driver where Virtumancer
// uses gorm.io/driver/sqlite (mattn, cgo). Both write DATETIME as
// "2006-01-02 15:04:05.999999999-07:00" in the clock's zone, and the DSN adds
// mattn's default 5 s busy timeout. The driver links the same
// modernc.org/sqlite/lib as zombiezen.com/go/sqlite (one module version in
// go.mod), so in one test process a store.Store and this DB share one SQLite
// engine and their file locks see each other; two engines in one process
// would not, as POSIX locks belong to the process.
package virtumancer

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// Host is Virtumancer's hosts model.
type Host struct {
	ID  string `gorm:"primaryKey" json:"id"`
	URI string `json:"uri"`
}

// VirtualMachine is Virtumancer's virtual_machines model.
type VirtualMachine struct {
	gorm.Model
	Name       string `gorm:"uniqueIndex:idx_vm_host_name" json:"name"`
	HostID     string `gorm:"uniqueIndex:idx_vm_host_name" json:"host_id"`
	ConfigJSON string `json:"config_json"`
}

// Options tune Open. The zero value behaves as Virtumancer does.
type Options struct {
	// NowFunc replaces GORM's clock (local time), e.g. to act as a
	// Virtumancer running in another time zone.
	NowFunc func() time.Time
	// Logf receives the warnings Virtumancer would log; nil drops them
	// (Result still counts them).
	Logf func(format string, args ...any)
}

// DB is Virtumancer's GORM handle on a store file.
type DB struct {
	db   *gorm.DB
	logf func(format string, args ...any)
}

// Open opens path as Virtumancer's InitDB does: gorm.Open, then
// AutoMigrate(&Host{}, &VirtualMachine{}), which creates missing tables and
// must leave a store we created unchanged.
func Open(path string, opts Options) (*DB, error) {
	cfg := &gorm.Config{Logger: logger.Default.LogMode(logger.Silent), NowFunc: opts.NowFunc}
	db, err := gorm.Open(sqlite.Open(path+"?_pragma=busy_timeout(5000)"), cfg)
	if err != nil {
		return nil, fmt.Errorf("virtumancer (test writer) %s: open: %w", path, err)
	}
	if err := db.AutoMigrate(&Host{}, &VirtualMachine{}); err != nil {
		_ = closeDB(db)
		return nil, fmt.Errorf("virtumancer (test writer) %s: automigrate: %w", path, err)
	}
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	return &DB{db: db, logf: logf}, nil
}

// Gorm is the underlying handle, for reads a test wants to make as
// Virtumancer would.
func (d *DB) Gorm() *gorm.DB { return d.db }

// Close closes every connection.
func (d *DB) Close() error { return closeDB(d.db) }

func closeDB(db *gorm.DB) error {
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// Result is what one SyncAndList did. Virtumancer only logs its failures,
// so they are counted here rather than returned.
type Result struct {
	Synced int // live domains whose row FirstOrCreate found and assigned, or created
	// UniqueFailures counts "UNIQUE constraint failed" warnings: its
	// FirstOrCreate does not see soft-deleted rows (GORM's scope) or lost
	// a race with another writer's insert of the same VM. Harmless to the data.
	UniqueFailures int
	Locked         int      // "database is locked" warnings (busy timeout spent)
	Warnings       []string // every warning, as Virtumancer logs it
	Pruned         int64    // rows the prune soft-deleted
}

// SyncAndList writes live (the host's domains as libvirt lists them) the
// way Virtumancer's syncAndListVMs does: per domain,
// Where(Name, HostID).Assign(ConfigJSON).FirstOrCreate, then a soft delete
// of the host's rows whose names are not live.
func (d *DB) SyncAndList(hostID string, live []vminfo.VMInfo) Result {
	var res Result
	for _, info := range live {
		configBytes, err := json.Marshal(virtumancerInfo(info))
		if err != nil {
			res.warn(d.logf, "Warning: could not marshal VM info for %s: %v", info.Name, err)
			continue
		}
		vm := VirtualMachine{Name: info.Name, HostID: hostID, ConfigJSON: string(configBytes)}
		err = d.db.Where(VirtualMachine{Name: info.Name, HostID: hostID}).
			Assign(VirtualMachine{ConfigJSON: string(configBytes)}).FirstOrCreate(&vm).Error
		if err != nil {
			res.warn(d.logf, "Warning: could not sync VM %s to database: %v", info.Name, err)
			continue
		}
		res.Synced++
	}
	var liveVMNames []string
	for _, vm := range live {
		liveVMNames = append(liveVMNames, vm.Name)
	}
	tx := d.db.Where("host_id = ? AND name NOT IN ?", hostID, liveVMNames).Delete(&VirtualMachine{})
	if tx.Error != nil {
		res.warn(d.logf, "Warning: failed to prune old VMs for host %s: %v", hostID, tx.Error)
	}
	res.Pruned = tx.RowsAffected
	return res
}

func (r *Result) warn(logf func(string, ...any), format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.Warnings = append(r.Warnings, msg)
	switch {
	case strings.Contains(msg, "UNIQUE constraint failed"):
		r.UniqueFailures++
	case strings.Contains(msg, "database is locked"):
		r.Locked++
	}
	logf("%s", msg)
}

// vmInfo is Virtumancer c7717fe's libvirt.VMInfo: only these fields reach
// its config_json (ours adds uuid, disks, interfaces...).
type vmInfo struct {
	ID         uint32   `json:"id"`
	Name       string   `json:"name"`
	State      int32    `json:"state"`
	MaxMem     uint64   `json:"max_mem"`
	Memory     uint64   `json:"memory"`
	Vcpu       uint     `json:"vcpu"`
	CPUTime    uint64   `json:"cpu_time"`
	Uptime     int64    `json:"uptime"`
	Persistent bool     `json:"persistent"`
	Autostart  bool     `json:"autostart"`
	Graphics   graphics `json:"graphics"`
}

type graphics struct {
	VNC   bool `json:"vnc"`
	SPICE bool `json:"spice"`
}

func virtumancerInfo(v vminfo.VMInfo) vmInfo {
	return vmInfo{
		ID: uint32(max(v.ID, 0)), Name: v.Name, State: int32(v.State), MaxMem: v.MaxMem, Memory: v.Memory,
		Vcpu: v.Vcpu, CPUTime: v.CPUTime, Uptime: v.Uptime, Persistent: v.Persistent, Autostart: v.Autostart,
		Graphics: graphics{VNC: v.Graphics.VNC, SPICE: v.Graphics.Spice},
	}
}
