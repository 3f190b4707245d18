package vminfo

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// scanner reads the markup of an XML document one tag at a time, with no
// allocation per tag. It knows the XML libvirt writes: anything else it
// is unsure of (CDATA, DOCTYPE, entities in a value it reads, a carriage
// return, invalid UTF-8) makes it give up, so the caller falls back to
// encoding/xml. Parts it skips are checked for balanced tags only: it is
// more lenient than libvirtxml there, which libvirt's own output never
// needs.
type scanner struct {
	s     string
	i     int
	stack []string
}

// tag kinds.
const (
	tagStart = iota
	tagEnd
	tagOther // comment or processing instruction
)

type tag struct {
	kind  int
	name  string
	attrs string // the raw attributes of a start tag, already checked
	empty bool   // <name/>
}

// next returns the text up to the next tag and the tag; ok is false at
// the end of the document or when the markup is beyond the scanner.
func (x *scanner) next() (text string, t tag, ok bool) {
	j := strings.IndexByte(x.s[x.i:], '<')
	if j < 0 {
		return "", t, false
	}
	text = x.s[x.i : x.i+j]
	x.i += j
	rest := x.s[x.i:]
	switch {
	case strings.HasPrefix(rest, "<!--"):
		k := strings.Index(rest[4:], "--")
		if k < 0 || !strings.HasPrefix(rest[4+k:], "-->") {
			return "", t, false // "--" inside a comment is an error
		}
		x.i += 4 + k + 3
		return text, tag{kind: tagOther}, true
	case strings.HasPrefix(rest, "<?"):
		k := strings.Index(rest, "?>")
		if k < 0 {
			return "", t, false
		}
		x.i += k + 2
		return text, tag{kind: tagOther}, true
	case strings.HasPrefix(rest, "<!"):
		return "", t, false // CDATA, DOCTYPE
	case strings.HasPrefix(rest, "</"):
		x.i += 2
		t = tag{kind: tagEnd, name: x.name()}
		x.space()
		if t.name == "" || !x.eat('>') {
			return "", t, false
		}
		return text, t, true
	}
	x.i++
	t = tag{kind: tagStart, name: x.name()}
	ok = t.name != "" && x.startRest(&t)
	return text, t, ok
}

// startRest reads a start tag's attributes up to and including its end.
func (x *scanner) startRest(t *tag) bool {
	from := x.i
	for {
		x.space()
		if x.i >= len(x.s) {
			return false
		}
		switch x.s[x.i] {
		case '>':
			t.attrs = x.s[from:x.i]
			x.i++
			return true
		case '/':
			t.attrs, t.empty = x.s[from:x.i], true
			x.i++
			return x.eat('>')
		}
		if x.name() == "" {
			return false
		}
		x.space()
		if !x.eat('=') {
			return false
		}
		x.space()
		if _, ok := x.quoted(); !ok {
			return false
		}
	}
}

// quoted reads a quoted attribute value.
func (x *scanner) quoted() (string, bool) {
	if x.i >= len(x.s) || (x.s[x.i] != '\'' && x.s[x.i] != '"') {
		return "", false
	}
	q := x.s[x.i]
	k := strings.IndexByte(x.s[x.i+1:], q)
	if k < 0 {
		return "", false
	}
	v := x.s[x.i+1 : x.i+1+k]
	x.i += k + 2
	return v, strings.IndexByte(v, '<') < 0
}

// nameEnd marks the bytes that end a name.
var nameEnd = func() (t [256]bool) {
	for _, c := range []byte(" \t\n/>='\"<") {
		t[c] = true
	}
	return t
}()

func (x *scanner) name() string {
	from := x.i
	for x.i < len(x.s) && !nameEnd[x.s[x.i]] {
		x.i++
	}
	return x.s[from:x.i]
}

func (x *scanner) space() {
	for x.i < len(x.s) && (x.s[x.i] == ' ' || x.s[x.i] == '\t' || x.s[x.i] == '\n') {
		x.i++
	}
}

func (x *scanner) eat(c byte) bool {
	if x.i < len(x.s) && x.s[x.i] == c {
		x.i++
		return true
	}
	return false
}

// attr returns the value of the attribute name in a start tag's raw
// attributes. ok is false when the answer is not certain: the attribute
// twice, or with a prefix (encoding/xml matches local names), or a value
// with an entity in it.
func attr(attrs, name string) (val string, found, ok bool) {
	x := scanner{s: attrs}
	for {
		x.space()
		if x.i >= len(x.s) {
			return val, found, true
		}
		n := x.name()
		x.space()
		x.eat('=')
		x.space()
		v, _ := x.quoted()
		_, local, prefixed := strings.Cut(n, ":")
		switch {
		case n != name && (!prefixed || local != name):
			continue
		case found || prefixed || strings.IndexByte(v, '&') >= 0:
			return "", false, false
		}
		val, found = v, true
	}
}

// skip consumes the rest of the element t (its start already read),
// checking that its tags balance.
func (x *scanner) skip(t tag) bool {
	if t.empty {
		return true
	}
	x.stack = append(x.stack[:0], t.name)
	for len(x.stack) > 0 {
		_, c, ok := x.next()
		switch {
		case !ok:
			return false
		case c.kind == tagStart && !c.empty:
			x.stack = append(x.stack, c.name)
		case c.kind == tagEnd:
			if c.name != x.stack[len(x.stack)-1] {
				return false
			}
			x.stack = x.stack[:len(x.stack)-1]
		}
	}
	return true
}

// text reads the content of element t when it is plain text (no child,
// comment or entity); ok is false otherwise.
func (x *scanner) text(t tag) (string, bool) {
	if t.empty {
		return "", true
	}
	s, end, ok := x.next()
	if !ok || end.kind != tagEnd || end.name != t.name ||
		strings.IndexByte(s, '&') >= 0 || strings.Contains(s, "]]>") {
		return "", false
	}
	return s, true
}

// children calls fn for each child element of the element named parent,
// whose start was just read, up to its end tag. fn must consume the child.
func (x *scanner) children(parent string, fn func(tag) bool) bool {
	for {
		_, t, ok := x.next()
		switch {
		case !ok:
			return false
		case t.kind == tagEnd:
			return t.name == parent
		case t.kind == tagStart && !fn(t):
			return false
		}
	}
}

// element sorts a child by name: one of known returns its name; any other
// "" (skip it). A prefixed name whose local part is one of known gives
// ok false: encoding/xml matches local names, so it would read it.
func element(name string, known ...string) (string, bool) {
	_, local, prefixed := strings.Cut(name, ":")
	switch {
	case prefixed:
		return "", !slices.Contains(known, local)
	case slices.Contains(known, name):
		return name, true
	}
	return "", true
}

// parseUint reads a number as encoding/xml does: empty is 0, otherwise
// trimmed and base 10.
func parseUint(s string) (uint, bool) {
	if s == "" {
		return 0, true
	}
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	return uint(n), err == nil
}

// plainDoc reports whether the scanner may read doc at all.
func plainDoc(doc string) bool {
	return strings.IndexByte(doc, '\r') < 0 && utf8.ValidString(doc)
}
