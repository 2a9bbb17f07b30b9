package architecture

import (
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/workplace/connections/"

// The kinds of package the rules speak of, by path inside the module.
var (
	// adapters implement a port on one technology; each stands alone.
	adapters = []string{
		"shared/store/dynamostore", "shared/store/memstore",
		"shared/vault/secretsvault", "shared/vault/memvault", "shared/vault/dynamovault",
		"shared/keys/kmskeys", "shared/keys/memkeys",
		"shared/mail/sesmail", "shared/mail/memmail",
		"shared/eventbus/eventbridgebus", "shared/eventbus/membus",
	}
	// awsAdapters are the adapters on AWS services.
	awsAdapters = []string{"shared/store/dynamostore", "shared/vault/secretsvault", "shared/vault/dynamovault", "shared/keys/kmskeys", "shared/mail/sesmail", "shared/eventbus/eventbridgebus"}
	// embedded are the in-memory twins: local mode and tests only.
	embedded = []string{"shared/store/memstore", "shared/vault/memvault", "shared/keys/memkeys", "shared/mail/memmail", "shared/eventbus/membus"}
	// testSupport are packages that only tests import.
	testSupport = []string{"shared/awstest", "shared/faulttest", "shared/store/storetest", "shared/vault/vaulttest", "shared/keys/keystest", "shared/mail/mailtest", "shared/vendors/vendortest", "shared/eventbus/bustest"}
	// wiring builds adapters for the Lambdas: the one shared/ package
	// besides the adapters that may name AWS services.
	wiring = []string{"shared/awsdeps"}
)

// pkg is one package of the module: its path inside the module and what
// its non-test files import.
type pkg struct {
	Path    string
	Imports []string // full import paths
}

// graph is the module's packages by path inside the module.
type graph map[string]pkg

// within reports whether path is p or a package under p.
func within(path, p string) bool { return path == p || strings.HasPrefix(path, p+"/") }

func withinAny(path string, ps []string) bool {
	return slices.ContainsFunc(ps, func(p string) bool { return within(path, p) })
}

// local is the module path of an import, or "" for one outside the module.
func local(imp string) string {
	if rest, ok := strings.CutPrefix(imp, module); ok {
		return rest
	}
	return ""
}

// closure is every module package p depends on (not p itself).
func (g graph) closure(p string) []string {
	seen := map[string]bool{}
	var visit func(string)
	visit = func(q string) {
		for _, imp := range g[q].Imports {
			if l := local(imp); l != "" && !seen[l] {
				seen[l] = true
				visit(l)
			}
		}
	}
	visit(p)
	out := make([]string, 0, len(seen))
	for q := range seen {
		out = append(out, q)
	}
	sort.Strings(out)
	return out
}

// violations applies the rules to g; each entry says which rule and where.
func violations(g graph) []string {
	var out []string
	paths := make([]string, 0, len(g))
	for p := range g {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		for _, imp := range g[p].Imports {
			l := local(imp)
			// 1. The production tree never reaches into local tooling.
			if within(p, "shared") && within(l, "infra") {
				out = append(out, p+" imports "+l+": shared/ must not import infra/")
			}
			// 2. Use cases, ports and the domain know no AWS: only the
			// adapters and the wiring that builds them do.
			core := within(p, "shared") && !withinAny(p, adapters) && !withinAny(p, wiring) && !withinAny(p, testSupport)
			if core && (strings.HasPrefix(imp, "github.com/aws/aws-sdk-go-v2") || withinAny(l, awsAdapters)) {
				out = append(out, p+" imports "+imp+": a use case must not import the AWS SDK or an AWS adapter")
			}
			// 3. An adapter stands alone: shared rules live in the port's
			// storage-neutral packages, not in another adapter.
			for _, a := range adapters {
				if within(p, a) && l != "" && withinAny(l, adapters) && !within(l, a) {
					out = append(out, p+" imports "+l+": an adapter must not import another adapter")
				}
			}
		}
	}
	// 4. A Lambda links production code only.
	for _, p := range paths {
		if !within(p, "functions") {
			continue
		}
		for _, dep := range g.closure(p) {
			if within(dep, "infra") || withinAny(dep, embedded) || withinAny(dep, testSupport) {
				out = append(out, p+" links "+dep+": a Lambda must not link local-only code")
			}
		}
	}
	return out
}

// load reads every package of the module under root (test files aside).
func load(t *testing.T, root string) graph {
	t.Helper()
	g := graph{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "node_modules" || name == "bin") {
			return filepath.SkipDir
		}
		bp, err := build.ImportDir(path, 0)
		if err != nil {
			if _, none := err.(*build.NoGoError); none {
				return nil
			}
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		g[rel] = pkg{Path: rel, Imports: bp.Imports}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(wd, "..", "..")
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("no go.mod at %s: %v", root, err)
	}
	return root
}

// TestLayers holds the module to the rules.
func TestLayers(t *testing.T) {
	g := load(t, moduleRoot(t))
	for _, must := range []string{"functions/oauth-callback", "shared/lifecycle", "shared/store/dynamostore", "infra/localserver"} {
		if _, ok := g[must]; !ok {
			t.Fatalf("package %s not found: the walk is broken", must)
		}
	}
	for _, v := range violations(g) {
		t.Error(v)
	}
}

// TestLambdasLinkNoLocalCode names what each Lambda links, for a reader of
// a failure, and checks it directly.
func TestLambdasLinkNoLocalCode(t *testing.T) {
	g := load(t, moduleRoot(t))
	n := 0
	for p := range g {
		if !within(p, "functions") {
			continue
		}
		n++
		deps := g.closure(p)
		if !slices.Contains(deps, "shared/awsdeps") {
			t.Errorf("%s does not link shared/awsdeps: the Lambdas' wiring is the AWS one", p)
		}
		for _, d := range deps {
			if within(d, "infra") || withinAny(d, embedded) || withinAny(d, testSupport) {
				t.Errorf("%s links local-only %s", p, d)
			}
		}
	}
	if n == 0 {
		t.Fatal("no functions/* package found")
	}
}

// TestRulesCatchViolations: each rule fires on a module that breaks it,
// and not on one that keeps it.
func TestRulesCatchViolations(t *testing.T) {
	clean := graph{
		"functions/f":               {Imports: []string{module + "shared/awsdeps"}},
		"shared/awsdeps":            {Imports: []string{module + "shared/handlers", module + "shared/store/dynamostore", "github.com/aws/aws-sdk-go-v2/config"}},
		"shared/handlers":           {Imports: []string{module + "shared/lifecycle"}},
		"shared/lifecycle":          {Imports: []string{module + "shared/store"}},
		"shared/store":              {},
		"shared/store/layout":       {Imports: []string{module + "shared/store"}},
		"shared/store/dynamostore":  {Imports: []string{module + "shared/store/layout", "github.com/aws/aws-sdk-go-v2/service/dynamodb"}},
		"shared/store/memstore":     {Imports: []string{module + "shared/store/layout"}},
		"infra/localbackend":        {Imports: []string{module + "shared/store/memstore", module + "shared/awsdeps"}},
		"shared/awstest":            {Imports: []string{"github.com/aws/aws-sdk-go-v2/service/dynamodb"}},
		"shared/vault/secretsvault": {Imports: []string{"github.com/aws/aws-sdk-go-v2/service/secretsmanager"}},
	}
	if v := violations(clean); len(v) != 0 {
		t.Fatalf("a clean module has violations: %v", v)
	}
	cases := []struct {
		name     string
		pkg, imp string
		want     string
	}{
		{"shared imports infra", "shared/lifecycle", module + "infra/sandbox", "shared/ must not import infra/"},
		{"use case imports the AWS SDK", "shared/lifecycle", "github.com/aws/aws-sdk-go-v2/service/dynamodb", "must not import the AWS SDK"},
		{"use case imports an AWS adapter", "shared/handlers", module + "shared/store/dynamostore", "must not import the AWS SDK or an AWS adapter"},
		{"adapter imports adapter", "shared/store/memstore", module + "shared/store/dynamostore", "must not import another adapter"},
		{"adapter imports an adapter's subpackage", "shared/store/memstore", module + "shared/store/dynamostore/layout", "must not import another adapter"},
		{"Lambda links an embedded adapter", "shared/awsdeps", module + "shared/store/memstore", "must not link local-only code"},
		{"Lambda links infra", "shared/handlers", module + "infra/localbackend", "must not link local-only code"},
		{"Lambda links the fault injector", "shared/handlers", module + "shared/faulttest", "must not link local-only code"},
		{"use case imports the EventBridge adapter", "shared/lifecycle", module + "shared/eventbus/eventbridgebus", "must not import the AWS SDK or an AWS adapter"},
		{"Lambda links the in-memory bus", "shared/awsdeps", module + "shared/eventbus/membus", "must not link local-only code"},
		{"bus adapter imports the store adapter", "shared/eventbus/eventbridgebus", module + "shared/store/dynamostore", "must not import another adapter"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := graph{}
			for k, v := range clean {
				g[k] = pkg{Imports: slices.Clone(v.Imports)}
			}
			p := g[c.pkg]
			p.Imports = append(p.Imports, c.imp)
			g[c.pkg] = p
			vs := violations(g)
			if !slices.ContainsFunc(vs, func(v string) bool { return strings.Contains(v, c.want) }) {
				t.Fatalf("no violation %q in %v", c.want, vs)
			}
		})
	}
}
