package vminfo

// GraphicsName renders Graphics as virtumancer_vm's `graphics` value (one of
// GraphicsValues; a domain offering both consoles reads "vnc+spice").
func GraphicsName(g Graphics) string {
	switch {
	case g.VNC && g.Spice:
		return "vnc+spice"
	case g.VNC:
		return "vnc"
	case g.Spice:
		return "spice"
	}
	return "none"
}

// Active tells whether a domain in libvirt state s is active (has an id and
// a live definition): running, blocked, paused, shutting down or suspended.
func Active(s int) bool {
	switch s {
	case StateRunning, StateBlocked, StatePaused, StateShutdown, StatePMSuspended:
		return true
	}
	return false
}
