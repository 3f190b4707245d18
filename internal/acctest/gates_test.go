package acctest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// needsLibvirtOrCLI are the harness calls that mark a test as one that
// needs libvirtd or PostgreSQL (TestIntegration…) or libvirtd and a CLI
// (TestAcc…).
var needsLibvirtOrCLI = map[string]bool{
	"resource.Test": true, "resource.ParallelTest": true,
	"acctest.PreCheck": true, "acctest.Dial": true, "acctest.RequireLibvirt": true,
	"libvirttest.Require": true, "libvirttest.Dial": true, "libvirttest.Connect": true, "libvirttest.StartPasswordSSHD": true,
	"syncertest.Dial": true, "requireDaemon": true,
	// PostgreSQL is part of the test environment like libvirtd.
	"pgtest.Require": true, "pgtest.NewDatabase": true, "pgtest.StartCluster": true,
}

// needsCLI are the calls only a TestAcc… may make.
var needsCLI = map[string]bool{"resource.Test": true, "resource.ParallelTest": true, "acctest.PreCheck": true}

// TestGateNames reads every test file of the module and checks that each
// test's name shows the gate it needs: a TestAcc… calls PreCheck first (or
// resource.Test would skip it silently when the CLI is not prepared), a
// plain Test… makes no harness call that needs libvirtd or a CLI, and a
// TestIntegration… does not drive the CLI. `make testunit` run with the
// daemon and the CLIs hidden (scripts/testunit-offline.sh) is the proof;
// this catches a wrong name before that.
func TestGateNames(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	seen := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return skipDir(root, path, d)
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok && fn.Recv == nil && fn.Body != nil {
				seen++
				if msg := gateProblem(fn); msg != "" {
					t.Errorf("%s: %s %s", fset.Position(fn.Pos()), fn.Name.Name, msg)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < 100 {
		t.Fatalf("read only %d test-file functions under %s; the walk is broken", seen, root)
	}
}

// skipDir leaves out hidden folders (.cache holds the OpenTofu build) and
// nested modules (tools/), which are not this module's tests.
func skipDir(root, path string, d fs.DirEntry) error {
	if path == root {
		return nil
	}
	if strings.HasPrefix(d.Name(), ".") {
		return filepath.SkipDir
	}
	if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
		return filepath.SkipDir
	}
	return nil
}

// gateProblem says what is wrong with fn's name, or "" when nothing is.
func gateProblem(fn *ast.FuncDecl) string {
	name := fn.Name.Name
	switch {
	case name == "TestMain" || !strings.HasPrefix(name, "Test"):
		return ""
	case strings.HasPrefix(name, "TestAcc"):
		if !startsWithPreCheck(fn.Body) {
			return "does not call acctest.PreCheck(t) first"
		}
	case strings.HasPrefix(name, "TestIntegration"):
		if call := firstCall(fn.Body, needsCLI); call != "" {
			return "calls " + call + ", which needs a CLI: name it TestAcc…"
		}
	default:
		if call := firstCall(fn.Body, needsLibvirtOrCLI); call != "" {
			return "calls " + call + ", which needs libvirtd or a CLI: name it TestIntegration… or TestAcc…"
		}
	}
	return ""
}

func startsWithPreCheck(body *ast.BlockStmt) bool {
	if len(body.List) == 0 {
		return false
	}
	stmt, ok := body.List[0].(*ast.ExprStmt)
	if !ok {
		return false
	}
	call, ok := stmt.X.(*ast.CallExpr)
	return ok && (callName(call) == "acctest.PreCheck" || callName(call) == "PreCheck")
}

// firstCall returns the first call in body (closures included) whose name
// is in names.
func firstCall(body *ast.BlockStmt, names map[string]bool) string {
	found := ""
	ast.Inspect(body, func(n ast.Node) bool {
		if call, ok := n.(*ast.CallExpr); ok && found == "" && names[callName(call)] {
			found = callName(call)
		}
		return found == ""
	})
	return found
}

// callName is "pkg.Func" or "Func" for a call, "" for anything else.
func callName(call *ast.CallExpr) string {
	switch f := call.Fun.(type) {
	case *ast.Ident:
		return f.Name
	case *ast.SelectorExpr:
		if x, ok := f.X.(*ast.Ident); ok {
			return x.Name + "." + f.Sel.Name
		}
	}
	return ""
}
