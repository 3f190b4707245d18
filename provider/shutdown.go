package provider

import "errors"

// CloseShared closes every store and libvirt connection pool this process
// opened. It is for a provider process that ends on its own because the CLI
// that started it is gone (the plugin server never calls it); Store.Close
// waits for a transaction in flight, so the caller bounds it.
func CloseShared() error {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	var errs []error
	for path, st := range sharedStores {
		errs = append(errs, st.Close())
		delete(sharedStores, path)
	}
	for key, p := range sharedPools {
		errs = append(errs, p.Close())
		delete(sharedPools, key)
	}
	return errors.Join(errs...)
}
