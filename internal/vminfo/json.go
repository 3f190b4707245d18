package vminfo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Parse decodes a config_json value. It accepts rows written by Virtumancer
// (which lack our additions) as well as our own, ignores unknown fields so a
// newer Virtumancer does not break us, and names the offending field or
// byte offset when the value cannot be read.
func Parse(data []byte) (VMInfo, error) {
	trimmed := bytes.TrimSpace(data)
	switch {
	case len(trimmed) == 0:
		return VMInfo{}, errors.New("vminfo: parse config_json: empty value, want a JSON object")
	case bytes.Equal(trimmed, []byte("null")):
		// json.Unmarshal accepts null as "leave unchanged", which would turn
		// a broken row into a VM with zero memory.
		return VMInfo{}, errors.New("vminfo: parse config_json: got null, want a JSON object")
	}
	var v VMInfo
	if err := json.Unmarshal(data, &v); err != nil {
		return VMInfo{}, describeJSONError(err)
	}
	return v, nil
}

// describeJSONError turns encoding/json errors into messages that say where
// the problem is, so an operator can find it in the row.
func describeJSONError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "(top level)"
		}
		return fmt.Errorf("vminfo: parse config_json: field %q at offset %d: got JSON %s, want %s",
			field, typeErr.Offset, typeErr.Value, typeErr.Type)
	case errors.As(err, &syntaxErr):
		return fmt.Errorf("vminfo: parse config_json: invalid JSON at offset %d: %w", syntaxErr.Offset, err)
	default:
		return fmt.Errorf("vminfo: parse config_json: %w", err)
	}
}

// Marshal encodes v for config_json. The output is stable (struct order,
// Virtumancer's fields first, then ours), so rewriting an unchanged row
// produces identical bytes and no spurious updates.
func (v VMInfo) Marshal() ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("vminfo: marshal config_json for vm %q: %w", v.Name, err)
	}
	return data, nil
}

// configView is VMInfo without its runtime fields: each shadows the
// embedded field of its JSON name and is always nil, so it is left out.
type configView struct {
	VMInfo
	ID      *struct{} `json:"id,omitempty"`
	State   *struct{} `json:"state,omitempty"`
	CPUTime *struct{} `json:"cpu_time,omitempty"`
	Uptime  *struct{} `json:"uptime,omitempty"`
}

// ConfigView encodes v without the fields that describe the running
// domain rather than its configuration (id, state, cpu_time, uptime): a
// text that changes only when the configuration does, so a plan can say
// what an update records instead of showing the whole value as unknown.
// Parse reads it back with those fields zero.
func (v VMInfo) ConfigView() (string, error) {
	data, err := json.Marshal(configView{VMInfo: v})
	if err != nil {
		return "", fmt.Errorf("vminfo: marshal config_json for vm %q: %w", v.Name, err)
	}
	return string(data), nil
}
