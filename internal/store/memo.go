package store

import (
	"encoding/json"
	"sync"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

// maxMemo bounds each memo; past it the memo starts over.
const maxMemo = 1 << 14

// parseMemo remembers what each JSON text decoded to. A resync reads every
// row again, nearly all unchanged since the last read, and decoding their
// JSON was most of its cost; decoding is deterministic, so the same text
// gives the same value. Only successes are kept. Safe for concurrent use.
type parseMemo struct {
	mu sync.Mutex
	m  map[string]vminfo.VMInfo
}

// decode returns fn(js), from the memo when js was decoded before.
func (p *parseMemo) decode(js string, fn func(string) (vminfo.VMInfo, error)) (vminfo.VMInfo, error) {
	if v, ok := p.peek(js); ok {
		return v, nil
	}
	v, err := fn(js)
	if err != nil {
		return v, err
	}
	p.mu.Lock()
	if p.m == nil || len(p.m) >= maxMemo {
		p.m = make(map[string]vminfo.VMInfo, 256)
	}
	p.m[js] = cloneInfo(v)
	p.mu.Unlock()
	return v, nil
}

// peek returns the memoized value of js, if any.
func (p *parseMemo) peek(js string) (vminfo.VMInfo, bool) {
	p.mu.Lock()
	v, ok := p.m[js]
	p.mu.Unlock()
	if ok {
		return cloneInfo(v), true
	}
	return v, false
}

func parseInfo(js string) (vminfo.VMInfo, error) { return vminfo.Parse([]byte(js)) }

// unmarshalInfo is unmarshalOpt for a VMInfo.
func unmarshalInfo(js string) (vminfo.VMInfo, error) {
	var v vminfo.VMInfo
	if js == "" {
		return v, nil
	}
	err := json.Unmarshal([]byte(js), &v)
	return v, err
}

// liveInfo decodes a live_json. A live snapshot nobody changed since it was
// recorded is config_json's very text, which a full sync has just decoded:
// whatever Parse accepted, json.Unmarshal reads the same (Parse is
// json.Unmarshal that also refuses empty and null).
func (s *Store) liveInfo(js string) (vminfo.VMInfo, error) {
	if v, ok := s.records.peek(js); ok {
		return v, nil
	}
	return unmarshalInfo(js)
}
