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

// A live_json equal to a config_json already parsed reads from the records
// memo, and reads the same as decoding it; null still reads as zero.
func TestLiveInfoSharesRecords(t *testing.T) {
	s := &Store{}
	js := `{"name":"a","max_mem":2,"interfaces":[]}`
	if _, err := s.records.decode(js, parseInfo); err != nil {
		t.Fatal(err)
	}
	got, err := s.liveInfo(js)
	want, _ := unmarshalInfo(js)
	if err != nil || !reflect.DeepEqual(got, want) || got.Interfaces == nil {
		t.Fatalf("liveInfo = %#v, %v; want %#v", got, err, want)
	}
	if v, err := s.liveInfo("null"); err != nil || !reflect.DeepEqual(v, vminfo.VMInfo{}) {
		t.Fatalf("liveInfo(null) = %#v, %v", v, err)
	}
}
