package resources

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/hypervisor"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
)

// destroy removes the VM store first: its row is soft-deleted before the
// domain is touched, so a store that refuses the write (locked, read-only)
// fails the destroy with nothing changed, and a domain that cannot be
// removed gets its row back. A process killed between the two leaves a
// deleted row beside a domain still in state, which the next destroy
// finishes; a row whose domain is already gone is simply deleted.
func (r *vmResource) destroy(ctx context.Context, conn *hypervisor.Conn, state vmModel, diags *diag.Diagnostics) {
	hostID, name := state.HostID.ValueString(), state.Name.ValueString()
	prev, found, err := r.softDeleteRow(ctx, hostID, name)
	if err != nil {
		diags.AddError("Unable to delete the VM's row", r.rowDeleteFailed(name, err))
		return
	}
	tflog.Debug(ctx, "soft-deleted the row", map[string]any{"row": prev.ID, "found": found})
	if summary, err := removeDomain(ctx, conn, name, shutdownGrace(state)); err != nil {
		diags.AddError(summary, err.Error()+"\n"+r.restoreRow(ctx, prev, found))
		return
	}
	removeGuestFiles(ctx, conn, state, diags)
	tflog.Info(ctx, "deleted vm")
}

// softDeleteRow soft-deletes the live row of the VM in one write and
// returns it as it was; found is false when there was none.
func (r *vmResource) softDeleteRow(ctx context.Context, hostID, name string) (prev store.VM, found bool, err error) {
	err = r.data.Store.Write(ctx, func(tx *store.Tx) error {
		vm, err := tx.GetVM(hostID, name)
		prev, found = vm, err == nil
		switch {
		case errors.Is(err, store.ErrNotFound):
			return nil
		case err != nil:
			return err
		}
		return tx.SoftDeleteVM(hostID, name)
	})
	return prev, found, err
}

// rowDeleteFailed is the detail for a destroy the store refused.
func (r *vmResource) rowDeleteFailed(name string, err error) string {
	unchanged := fmt.Sprintf("Nothing was changed: the domain %q is still defined and its row in the store is live.", name)
	if errors.Is(err, store.ErrReadOnly) {
		return fmt.Sprintf("Cannot delete vm %q: the store %s is read-only (the file or its directory is not writable by "+
			"this process). %s Make the file, its -wal and -shm files and its directory writable by this user, then destroy again.",
			name, r.data.Store.Path(), unchanged)
	}
	return fmt.Sprintf("Cannot delete vm %q: %v\n%s If another process holds the store's write lock (the sync service, "+
		"Virtumancer, or a sqlite3 shell with a transaction open on %s), let it finish or end it, then destroy again.",
		name, err, unchanged, r.data.Store.Path())
}

// removeDomain stops and undefines the domain; one already gone is fine.
// On failure it returns the summary of the step that failed.
func removeDomain(ctx context.Context, conn *hypervisor.Conn, name string, grace time.Duration) (string, error) {
	dom, err := conn.LookupDomain(ctx, name)
	switch {
	case hypervisor.IsNotFound(err):
		tflog.Info(ctx, "domain already gone")
		return "", nil
	case err != nil:
		return "Unable to find the domain", err
	}
	forced, err := conn.Shutdown(ctx, dom, grace)
	if err != nil {
		return "Unable to stop the VM", err
	}
	tflog.Debug(ctx, "stopped domain", map[string]any{"forced": forced})
	// A transient domain vanishes when it stops: nothing to undefine.
	if err := conn.Undefine(ctx, dom); err != nil && !hypervisor.IsNotFound(err) {
		return "Unable to undefine the domain", err
	}
	return "", nil
}

// restoreRow undeletes the row destroy soft-deleted, exactly as it was,
// once the domain could not be removed, so the store again says what the
// host has. It runs even when the delete's timeout expired.
func (r *vmResource) restoreRow(ctx context.Context, prev store.VM, found bool) string {
	if !found {
		return "The store had no live row for this VM and is unchanged."
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), vmCleanupTimeout)
	defer cancel()
	// Undelete, not re-record: config_json may be Virtumancer's live cache,
	// and our recorded copy must stay what was applied.
	if _, err := r.data.Store.UndeleteVM(ctx, prev); err != nil {
		tflog.Error(ctx, "could not restore the row after a failed delete", map[string]any{"error": err.Error()})
		return fmt.Sprintf("Its row %d could not be restored (%v): the store shows the VM deleted while its domain "+
			"still exists. Destroy again to remove the domain.", prev.ID, err)
	}
	tflog.Info(ctx, "restored the row after a failed delete", map[string]any{"row": prev.ID})
	return fmt.Sprintf("Its row %d in the store was restored with the same recorded configuration; destroy again once "+
		"the cause is fixed.", prev.ID)
}
