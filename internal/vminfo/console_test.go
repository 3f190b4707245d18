package vminfo

import (
	"strings"
	"testing"
)

// A console log is a serial port on a file, appended to; it reads back as
// ConsoleLog, and a changed path is drift. Without one the console stays a
// pty (virsh console).
func TestBuildXMLConsoleLog(t *testing.T) {
	s := validSpec()
	s.ConsoleLog = "/var/lib/pool/web-console.log"
	doc, err := BuildXML(s)
	if err != nil {
		t.Fatal(err)
	}
	flat := strings.Join(strings.Fields(doc), "")
	for _, want := range []string{
		`<serialtype="file"><sourcepath="/var/lib/pool/web-console.log"append="on"></source>`,
		`<consoletype="file"><sourcepath="/var/lib/pool/web-console.log"append="on"></source>`,
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("definition lacks %s:\n%s", want, doc)
		}
	}
	got, err := FromXML(doc, Runtime{})
	if err != nil {
		t.Fatal(err)
	}
	if got.ConsoleLog != s.ConsoleLog || s.Expected().ConsoleLog != s.ConsoleLog {
		t.Errorf("ConsoleLog read back %q, expected %q, want %q", got.ConsoleLog, s.Expected().ConsoleLog, s.ConsoleLog)
	}
	moved := got
	moved.ConsoleLog = "/elsewhere.log"
	if d := Compare(got, moved); len(d) != 1 || d[0].Field != "console_log" {
		t.Errorf("a moved console log: drift %+v, want console_log", d)
	}

	plain, err := BuildXML(validSpec())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plain, `<serial type="pty">`) || strings.Contains(plain, "append") {
		t.Errorf("without ConsoleLog the serial console is not a pty:\n%s", plain)
	}
	s.ConsoleLog = "relative.log"
	if _, err := BuildXML(s); err == nil || !strings.Contains(err.Error(), `console_log "relative.log": must be an absolute path`) {
		t.Errorf("relative console log: error %v", err)
	}
}

// The seed digest is recorded only: no definition has it, so a recorded
// digest is never drift against a live domain.
func TestCompareIgnoresSeedDigest(t *testing.T) {
	rec := validSpec().Expected()
	rec.SeedDigest = "abc"
	if d := Compare(rec, validSpec().Expected()); len(d) != 0 {
		t.Errorf("seed digest shows as drift: %+v", d)
	}
}
