package storetest

import "testing"

func TestDollarParams(t *testing.T) {
	for in, want := range map[string]string{
		"SELECT 1":                               "SELECT 1",
		"UPDATE t SET a = ? WHERE b = ?":         "UPDATE t SET a = $1 WHERE b = $2",
		"SELECT '?' , ? FROM \"w?\" WHERE x = ?": "SELECT '?' , $1 FROM \"w?\" WHERE x = $2",
		"INSERT INTO t VALUES (?, 'it''s?', ?)":  "INSERT INTO t VALUES ($1, 'it''s?', $2)",
	} {
		if got := dollarParams(in); got != want {
			t.Errorf("dollarParams(%q) = %q, want %q", in, got, want)
		}
	}
}
