package syncer

import (
	"context"
	"errors"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
)

// changeFeed is what the engine polls to notice writes by other processes
// (a changed data version, which the engine's own writes leave alone) and
// the store file being deleted or replaced under it; *store.Store
// implements it.
type changeFeed interface {
	ForeignDataVersion(ctx context.Context) (int64, error)
	CheckFile() error
}

// fileLost reports a store file deleted or replaced under the engine.
func fileLost(err error) bool {
	return errors.Is(err, store.ErrFileGone) || errors.Is(err, store.ErrFileReplaced)
}
