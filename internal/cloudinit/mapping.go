package cloudinit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// topLevelKeys checks that doc is a mapping, the one rule meta_data and
// network_config share, and returns its top-level keys with their scalar
// values ("" for nested ones). cloud-init parses both with a full YAML
// reader; this package checks only the shape, without a YAML dependency:
//   - a document whose first non-blank character is '{' must be a JSON
//     object (JSON is YAML, so cloud-init reads it the same way);
//   - anything else must be a YAML block mapping: each line that starts in
//     column 0 is "key:" or "key: value", indented lines (with spaces, as
//     YAML demands) belong to the key above, blank and '#' lines are free,
//     and one leading "---" is allowed. Keys must not repeat.
func topLevelKeys(doc string) (map[string]string, error) {
	if strings.HasPrefix(strings.TrimLeft(doc, " \t\r\n"), "{") {
		return jsonKeys(doc)
	}
	return yamlKeys(doc)
}

func jsonKeys(doc string) (map[string]string, error) {
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(strings.NewReader(doc))
	if err := dec.Decode(&obj); err != nil {
		var syntaxErr *json.SyntaxError
		if errors.As(err, &syntaxErr) {
			return nil, fmt.Errorf("starts with '{' but is not a JSON object: invalid JSON at offset %d: %w", syntaxErr.Offset, err)
		}
		return nil, fmt.Errorf("starts with '{' but is not a JSON object: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("holds more than one JSON value after offset %d: cloud-init reads one object", dec.InputOffset())
	}
	keys := make(map[string]string, len(obj))
	for k, raw := range obj {
		keys[k] = jsonScalar(raw)
	}
	return keys, nil
}

// jsonScalar is a string's text, a number's digits, or "" for the rest.
func jsonScalar(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return ""
	}
	return string(bytes.TrimSpace(raw))
}

func yamlKeys(doc string) (map[string]string, error) {
	keys := map[string]string{}
	seenContent := false
	for i, line := range strings.Split(doc, "\n") {
		n := i + 1
		line = strings.TrimSuffix(line, "\r")
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || strings.HasPrefix(trimmed, "#"):
			continue
		case line == "---" || strings.HasPrefix(line, "--- "):
			if seenContent {
				return nil, fmt.Errorf("line %d starts a second YAML document: cloud-init reads one", n)
			}
			continue
		case line == "...":
			return nil, fmt.Errorf("line %d ends the YAML document early: remove it", n)
		case line[0] == '\t':
			return nil, fmt.Errorf("line %d is indented with a tab, which YAML forbids: indent with spaces", n)
		case line[0] == ' ':
			if !seenContent {
				return nil, fmt.Errorf("line %d is indented before any top-level key: start the mapping in column 1", n)
			}
			continue
		}
		seenContent = true
		key, value, err := yamlKeyValue(line)
		if err != nil {
			return nil, fmt.Errorf("line %d %w", n, err)
		}
		if _, dup := keys[key]; dup {
			return nil, fmt.Errorf("line %d repeats the key %q: YAML keeps only the last one, so say it once", n, key)
		}
		keys[key] = value
	}
	if !seenContent {
		return nil, errors.New("holds no key: want a mapping such as \"key: value\" lines or a JSON object")
	}
	return keys, nil
}

// yamlKeyValue splits a top-level "key: value" line (a "# comment" after
// the value dropped, quotes around key or value removed). Its errors
// complete "line N ...".
func yamlKeyValue(line string) (key, value string, err error) {
	switch line[0] {
	case '-':
		return "", "", errors.New(`is a list item, but the document must be a mapping of "key: value"`)
	case '[', '{':
		return "", "", errors.New(`starts a flow collection: write the mapping as "key: value" lines, or the whole document as JSON`)
	}
	key, value, found := strings.Cut(line, ": ")
	if !found {
		if !strings.HasSuffix(line, ":") {
			return "", "", errors.New(`is not "key: value" (a colon and a space after the key) nor an indented continuation`)
		}
		key = strings.TrimSuffix(line, ":")
	}
	key = unquote(strings.TrimSpace(key))
	if key == "" {
		return "", "", errors.New("has an empty key")
	}
	if j := strings.Index(value, " #"); j >= 0 {
		value = value[:j]
	}
	return key, unquote(strings.TrimSpace(value)), nil
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}
