package store

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

func TestParseMemo(t *testing.T) {
	var p parseMemo
	calls := 0
	fn := func(js string) (vminfo.VMInfo, error) {
		calls++
		if js == "bad" {
			return vminfo.VMInfo{}, errors.New("bad")
		}
		return parseInfo(js)
	}
	js := `{"name":"a","max_mem":1,"disks":[{"device":"disk","target":"vda","bus":"virtio"}]}`
	first, err := p.decode(js, fn)
	if err != nil {
		t.Fatal(err)
	}
	first.Disks[0].Target = "changed" // must not reach the memo
	again, err := p.decode(js, fn)
	want, _ := parseInfo(js)
	if err != nil || calls != 1 || !reflect.DeepEqual(again, want) {
		t.Fatalf("second decode: %#v, %v after %d calls; want %#v from the memo", again, err, calls, want)
	}
	for range 2 {
		if _, err := p.decode("bad", fn); err == nil {
			t.Fatal("an error was not returned")
		}
	}
	if calls != 3 {
		t.Fatalf("errors are memoized: %d calls", calls)
	}
	for i := range maxMemo + 1 {
		if _, err := p.decode(fmt.Sprintf(`{"max_mem":%d}`, i), fn); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(p.m); n > maxMemo {
		t.Fatalf("memo holds %d entries, bound %d", n, maxMemo)
	}
}
