package hypervisor

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"sync"

	"github.com/digitalocean/go-libvirt"
)

// memo keeps, per dialled connection, what cannot change while that
// connection is up: the host's facts, and the shapes of definitions the
// daemon has already validated. A redial (a daemon restart) starts afresh,
// since the entries are tied to the *libvirt.Libvirt they were learnt on.
type memo struct {
	mu        sync.Mutex
	l         *libvirt.Libvirt
	facts     *HostFacts
	validated map[string]struct{}
}

// memoMaxShapes bounds the validated shapes kept; past it the set restarts.
const memoMaxShapes = 256

// on returns the memo's state for l, dropping what another connection
// taught it. The caller holds m.mu.
func (m *memo) on(l *libvirt.Libvirt) {
	if m.l != l {
		m.l, m.facts, m.validated = l, nil, nil
	}
}

func (m *memo) cachedFacts(l *libvirt.Libvirt) (HostFacts, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.on(l)
	if m.facts == nil {
		return HostFacts{}, false
	}
	return *m.facts, true
}

func (m *memo) rememberFacts(l *libvirt.Libvirt, f HostFacts) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.on(l)
	m.facts = &f
}

func (m *memo) wasValidated(l *libvirt.Libvirt, shape string) bool {
	if shape == "" {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.on(l)
	_, ok := m.validated[shape]
	return ok
}

func (m *memo) rememberValidated(l *libvirt.Libvirt, shape string) {
	if shape == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.on(l)
	if m.validated == nil || len(m.validated) >= memoMaxShapes {
		m.validated = map[string]struct{}{}
	}
	m.validated[shape] = struct{}{}
}

// defineShape is the domain XML with the text of the domain's own <name>
// and <uuid> left out, or "" when the document does not parse. Schema
// validation (libvirt parses its RelaxNG grammar afresh on every call,
// about 10 ms on the test driver) gives the same answer for two documents
// of one shape: the schema accepts any name without a newline and any
// canonical uuid, and libvirt's parser checks both itself whether or not
// it validates (an empty name, a malformed uuid) before defining.
func defineShape(doc string) string {
	d := xml.NewDecoder(strings.NewReader(doc))
	var cut [][2]int64 // byte ranges of the name and uuid text
	depth, inID, isUUID := 0, false, false
	var start int64
	var text []byte
	for {
		off := d.InputOffset()
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) && depth == 0 {
			break
		}
		if err != nil {
			return ""
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			isUUID = t.Name.Local == "uuid"
			inID = depth == 2 && (t.Name.Local == "name" || isUUID)
			start, text = d.InputOffset(), text[:0]
		case xml.EndElement:
			// Only a canonical uuid is left out: the parser accepts forms
			// the schema refuses.
			if inID && (!isUUID || canonicalUUID(string(text))) {
				cut = append(cut, [2]int64{start, off})
			}
			depth, inID = depth-1, false
		case xml.CharData:
			if inID && bytes.ContainsAny(t, "\n\r") {
				return "" // left to the schema, whatever it says of newlines
			}
			text = append(text, t...)
		}
	}
	var b strings.Builder
	last := int64(0)
	for _, c := range cut {
		b.WriteString(doc[last:c[0]])
		last = c[1]
	}
	b.WriteString(doc[last:])
	return b.String()
}

// canonicalUUID tells whether s is a uuid in the 8-4-4-4-12 form.
func canonicalUUID(s string) bool {
	_, err := parseUUID(s)
	return err == nil && len(s) == 36
}
