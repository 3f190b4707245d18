package store

import (
	"fmt"
	"strings"
	"time"
)

// TimeFormat is how GORM's SQLite drivers write time.Time into DATETIME
// columns. We write the same text (in UTC, as Virtumancer does) so rows we
// touch look exactly like rows Virtumancer wrote.
const TimeFormat = "2006-01-02 15:04:05.999999999-07:00"

// parseLayouts are tried in order by ParseTime. The list follows what the
// Go SQLite drivers accept for DATETIME text, so we read whatever GORM,
// sqlite3's CURRENT_TIMESTAMP or a hand edit may have left. Fractional
// seconds are optional in every layout (Go's .999 accepts their absence).
var parseLayouts = []string{
	TimeFormat,
	"2006-01-02T15:04:05.999999999Z07:00", // RFC 3339, with or without fraction
	"2006-01-02 15:04:05.999999999Z07:00", // RFC 3339 with a space and a Z
	"2006-01-02T15:04:05.999999999-07:00",
	"2006-01-02 15:04:05.999999999 -0700 MST", // time.Time.String()
	"2006-01-02 15:04:05.999999999",           // no zone: UTC, as SQLite means it
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02T15:04",
	"2006-01-02",
}

// FormatTime renders t the way GORM stores it, in UTC.
func FormatTime(t time.Time) string {
	return t.UTC().Format(TimeFormat)
}

// ParseTime reads a DATETIME text written by GORM (TimeFormat), RFC 3339, or
// SQLite's own "YYYY-MM-DD HH:MM:SS". Text without a zone is taken as UTC.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range parseLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unrecognised timestamp %q (want %q or RFC 3339)", s, TimeFormat)
}
