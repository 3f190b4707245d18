package vminfo

import (
	"reflect"
	"testing"
)

func TestUnmanaged(t *testing.T) {
	for name, c := range map[string]struct {
		devices string
		want    []string
	}{
		"only managed devices": {`<interface type='network'><source network='default'/></interface>
<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel><video><model type='vga'/></video>`, []string{}},
		"hostdev pci": {`<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></source></hostdev>`,
			[]string{"hostdev pci 0000:01:00.0"}},
		"usb hostdev": {`<hostdev mode='subsystem' type='usb'><source><vendor id='0x1234'/><product id='0xbeef'/></source></hostdev>`,
			[]string{"hostdev usb 0x1234:0xbeef"}},
		"filesystem": {`<filesystem type='mount' accessmode='passthrough'><source dir='/srv'/><target dir='share'/></filesystem>`,
			[]string{"filesystem /srv -> share"}},
		"direct and user interfaces": {`<interface type="direct"><source dev="eth0" mode="bridge"/></interface>
<interface type='bridge'><source bridge='br0'/></interface><interface type='user'/>`, []string{"interface direct eth0", "interface user"}},
		"foreign channel": {`<channel type='unix'><target type='virtio' name='org.example.0'/></channel>`, []string{"channel org.example.0"}},
		"tpm":             {`<tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>`, []string{"tpm"}},
	} {
		t.Run(name, func(t *testing.T) {
			doc := `<domain type='qemu'><name>x</name><memory>1024</memory><devices>` + c.devices + `</devices></domain>`
			got, err := Unmanaged(doc)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("Unmanaged = %q, want %q", got, c.want)
			}
		})
	}
}

// A definition with nothing unmanaged is never parsed: broken XML passes.
func TestUnmanagedSkipsParseWhenNothingCanBeThere(t *testing.T) {
	got, err := Unmanaged(`<domain><devices><interface type='network'><not closed`)
	if err != nil || len(got) != 0 {
		t.Errorf("Unmanaged = %q, %v; want none without parsing", got, err)
	}
	if _, err := Unmanaged(`<domain><devices><hostdev><not closed`); err == nil {
		t.Error("a definition that may hold a hostdev is parsed, and a broken one is an error")
	}
}
