package supervisor_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/sluice-mq/sluice"

// The packages' import rules, checked on the module's own import graph
// (non-test imports, as `go list` reports them), so that the layers stay
// one way as the code grows:
//
//	remoting/message   the properties codec: imports nothing of ours
//	remoting, commitlog  the wire and the store: nothing of ours but remoting/message
//	                   (and commitlog its own subpackages; any of them the
//	                   leaf commitlog/mmap, the store's system calls)
//	actors             actor plumbing: never the handler sets, supervisor or cmd
//	handler sets       request logic (actors/send, pull, client, admin, namesrv,
//	                   metadata): never protoactor, supervisor or cmd — so no
//	                   handler can take an actor.Context
//	supervisor         never cmd
func TestImportLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	handlerSets := []string{"actors/acl", "actors/send", "actors/pull", "actors/client", "actors/admin", "actors/namesrv", "actors/metadata", "actors/schedule", "actors/query", "actors/timer", "actors/stats", "actors/slave", "actors/pop"}
	seen := 0
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		seen++
		pkg := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		for _, imp := range p.Imports {
			ours := strings.HasPrefix(imp, module+"/")
			dep := strings.TrimPrefix(imp, module+"/")
			bad := ""
			switch {
			case pkg == "remoting/message" && ours:
				bad = "the properties codec imports nothing of ours"
			case (under(pkg, "remoting") || under(pkg, "commitlog")) && ours && dep != "remoting/message" &&
				!(pkg == "commitlog" && under(dep, "commitlog")) && !(under(pkg, "commitlog") && dep == "commitlog/mmap"):
				bad = "remoting and commitlog import nothing of ours but remoting/message (commitlog: and its subpackages; all: commitlog/mmap)"
			case pkg == "actors" && ours && (inAny(dep, handlerSets) || under(dep, "supervisor") || under(dep, "cmd")):
				bad = "actor plumbing must not import request logic, supervisor or cmd"
			case inAny(pkg, handlerSets) && (under(imp, "github.com/asynkron/protoactor-go") || (ours && (under(dep, "supervisor") || under(dep, "cmd")))):
				bad = "request logic takes *actors.Request, never protoactor, and never imports supervisor or cmd"
			case pkg == "remoting/rmqv2" && ours:
				bad = "the generated gRPC wire code imports nothing of ours"
			case under(pkg, "actors/grpcfront") && (under(imp, "github.com/asynkron/protoactor-go") || (ours && (inAny(dep, handlerSets) || under(dep, "supervisor") || under(dep, "cmd")))):
				bad = "the gRPC front goes through actors.Submit: never protoactor, a handler set, supervisor or cmd"
			case under(pkg, "supervisor") && ours && under(dep, "cmd"):
				bad = "supervisor never imports cmd"
			}
			if bad != "" {
				t.Errorf("%s imports %s: %s", p.ImportPath, imp, bad)
			}
		}
	}
	if seen < 15 {
		t.Fatalf("go list reported %d packages; the module layout changed?", seen)
	}
}

// under reports whether path is dir or inside it.
func under(path, dir string) bool { return path == dir || strings.HasPrefix(path, dir+"/") }

func inAny(path string, dirs []string) bool {
	for _, d := range dirs {
		if under(path, d) {
			return true
		}
	}
	return false
}
