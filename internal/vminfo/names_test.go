package vminfo

import "testing"

// GraphicsName must undo what Spec.Expected records for each value the
// schema accepts, or an applied VM would read back as drift.
func TestGraphicsNameRoundTrip(t *testing.T) {
	for _, v := range GraphicsValues {
		if got := GraphicsName(Spec{Name: "g", Graphics: v}.Expected().Graphics); got != v {
			t.Errorf("GraphicsName(Expected(%q).Graphics) = %q", v, got)
		}
	}
	if got := GraphicsName(Graphics{VNC: true, Spice: true}); got != "vnc" {
		t.Errorf("both consoles: %q, want vnc", got)
	}
}

func TestActive(t *testing.T) {
	want := map[int]bool{
		StateNoState: false, StateRunning: true, StateBlocked: true, StatePaused: true,
		StateShutdown: true, StateShutoff: false, StateCrashed: false, StatePMSuspended: true, 99: false,
	}
	for s, active := range want {
		if Active(s) != active {
			t.Errorf("Active(%d, %s) = %v, want %v", s, StateName(s), !active, active)
		}
	}
}

func TestDefaultBus(t *testing.T) {
	for device, bus := range map[string]string{"disk": "virtio", "cdrom": "sata", "": "virtio"} {
		if got := DefaultBus(device); got != bus {
			t.Errorf("DefaultBus(%q) = %q, want %q", device, got, bus)
		}
	}
}

func TestStateName(t *testing.T) {
	for s, want := range map[int]string{StateRunning: "running", StateShutoff: "shut off", StatePMSuspended: "pmsuspended", -1: "unknown", 42: "unknown"} {
		if got := StateName(s); got != want {
			t.Errorf("StateName(%d) = %q, want %q", s, got, want)
		}
	}
}
