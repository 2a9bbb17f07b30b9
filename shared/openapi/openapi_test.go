package openapi_test

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"github.com/workplace/connections/shared/handlers"
	"github.com/workplace/connections/shared/openapi"
	"github.com/workplace/connections/shared/vendors"
)

// raw is the served JSON document, decoded.
func raw(t *testing.T) map[string]any {
	t.Helper()
	b, err := openapi.JSON()
	if err != nil {
		t.Fatalf("the document does not convert to JSON: %v", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("the served JSON does not parse: %v", err)
	}
	return doc
}

func model(t *testing.T) (libopenapi.Document, *v3.Document) {
	t.Helper()
	b, err := openapi.JSON()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := libopenapi.NewDocument(b)
	if err != nil {
		t.Fatalf("libopenapi reads no document: %v", err)
	}
	m, err := doc.BuildV3Model()
	if err != nil {
		t.Fatalf("the document builds no 3.x model: %v", err)
	}
	return doc, &m.Model
}

// TestDocumentIsValidOpenAPI31: the served document is OpenAPI 3.1 and
// valid against the specification's schema; the YAML source and the JSON
// are the same document.
func TestDocumentIsValidOpenAPI31(t *testing.T) {
	doc, _ := model(t)
	if v := doc.GetVersion(); !strings.HasPrefix(v, "3.1") {
		t.Fatalf("OpenAPI version %q, want 3.1", v)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("no validator: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			t.Errorf("invalid document: %s", e.Error())
			for _, se := range e.SchemaValidationErrors {
				t.Errorf("  %s at %s", se.Reason, se.KeywordLocation)
			}
		}
	}
	// The YAML, read by libopenapi itself, is the same document as the JSON.
	fromYAML, err := libopenapi.NewDocument(openapi.YAML)
	if err != nil {
		t.Fatal(err)
	}
	my, err := fromYAML.BuildV3Model()
	if err != nil {
		t.Fatal(err)
	}
	_, mj := model(t)
	if my.Model.Paths.PathItems.Len() != mj.Paths.PathItems.Len() || my.Model.Components.Schemas.Len() != mj.Components.Schemas.Len() {
		t.Fatal("the YAML source and the served JSON describe different documents")
	}
}

// TestEveryRouteIsDescribed: every route of handlers.Routes is an
// operation of the document and the document has no other, the token
// broker authorized by IAM and every other route by the JWT.
func TestEveryRouteIsDescribed(t *testing.T) {
	doc := raw(t)
	paths := doc["paths"].(map[string]any)
	var described []string
	security := map[string]string{}
	for p, item := range paths {
		for method, op := range item.(map[string]any) {
			switch method {
			case "get", "put", "post", "delete", "patch", "head", "options", "trace":
			default:
				continue
			}
			key := strings.ToUpper(method) + " " + p
			described = append(described, key)
			sec := "jwt" // the document's default
			if s, ok := op.(map[string]any)["security"]; ok {
				b, _ := json.Marshal(s)
				sec = string(b)
			}
			security[key] = sec
		}
	}
	var routes []string
	for _, r := range handlers.Routes {
		routes = append(routes, r.RouteKey())
		want := "jwt"
		if r.Internal() {
			want = `[{"awsIam":[]}]`
		}
		if got, ok := security[r.RouteKey()]; ok && got != want {
			t.Errorf("%s: security %s, want %s", r.RouteKey(), got, want)
		}
	}
	if d, _ := json.Marshal(doc["security"]); string(d) != `[{"jwt":[]}]` {
		t.Errorf("default security %s, want the JWT", d)
	}
	sort.Strings(described)
	sort.Strings(routes)
	if !slices.Equal(described, routes) {
		t.Fatalf("the document describes\n  %s\nthe API has\n  %s", strings.Join(described, "\n  "), strings.Join(routes, "\n  "))
	}
}

// documentedCodes are the error codes the document lists, by status, with
// the operations that list them ("" for a shared response's).
func documentedCodes(t *testing.T, doc map[string]any) map[string]map[string][]string {
	t.Helper()
	out := map[string]map[string][]string{}
	comps := doc["components"].(map[string]any)
	shared := comps["responses"].(map[string]any)
	for p, item := range doc["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			resps, ok := op.(map[string]any)["responses"].(map[string]any)
			if !ok {
				continue
			}
			for status, r := range resps {
				resp := r.(map[string]any)
				if ref, ok := resp["$ref"].(string); ok {
					resp = shared[strings.TrimPrefix(ref, "#/components/responses/")].(map[string]any)
				}
				codes := codesOf(resp)
				if status[0] >= '4' && len(codes) == 0 {
					t.Errorf("%s %s %s lists no error code", method, p, status)
				}
				if status[0] < '4' && len(codes) > 0 {
					t.Errorf("%s %s %s lists error codes", method, p, status)
				}
				for _, c := range codes {
					if out[status] == nil {
						out[status] = map[string][]string{}
					}
					out[status][c] = append(out[status][c], strings.ToUpper(method)+" "+p)
				}
			}
		}
	}
	return out
}

// codesOf reads the code enum of an error response:
// allOf[Problem, {properties:{error:{properties:{code:{enum}}}}}].
func codesOf(resp map[string]any) []string {
	content, _ := resp["content"].(map[string]any)
	mt, _ := content["application/json"].(map[string]any)
	schema, _ := mt["schema"].(map[string]any)
	all, _ := schema["allOf"].([]any)
	var codes []string
	for _, s := range all {
		m, _ := s.(map[string]any)
		props, _ := m["properties"].(map[string]any)
		e, _ := props["error"].(map[string]any)
		eprops, _ := e["properties"].(map[string]any)
		code, _ := eprops["code"].(map[string]any)
		enum, _ := code["enum"].([]any)
		for _, c := range enum {
			codes = append(codes, c.(string))
		}
	}
	return codes
}

// sourceCodes are the (status, code) pairs the service's code can answer
// with: every problem.New / apigw.Errorf with a literal status and code in
// shared/ (not tests).
func sourceCodes(t *testing.T) map[string]map[string]string {
	t.Helper()
	root := filepath.Join("..")
	out := map[string]map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) < 2 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || !(sel.Sel.Name == "New" && isIdent(sel.X, "problem") || sel.Sel.Name == "Errorf" && (isIdent(sel.X, "apigw"))) {
				if id, ok := call.Fun.(*ast.Ident); !ok || id.Name != "Errorf" || !strings.HasSuffix(filepath.Dir(path), "apigw") {
					return true
				}
			}
			st, ok := call.Args[0].(*ast.SelectorExpr)
			lit, ok2 := call.Args[1].(*ast.BasicLit)
			if !ok || !ok2 || !isIdent(st.X, "http") {
				t.Errorf("%s: an error whose status or code is not literal: the test cannot see it", path)
				return true
			}
			code, _ := strconv.Unquote(lit.Value)
			status := strconv.Itoa(statusOf(t, st.Sel.Name))
			if out[status] == nil {
				out[status] = map[string]string{}
			}
			out[status][code] = path
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

func statusOf(t *testing.T, name string) int {
	known := map[string]int{
		"StatusBadRequest": 400, "StatusUnauthorized": 401, "StatusForbidden": 403, "StatusNotFound": 404,
		"StatusConflict": 409, "StatusInternalServerError": 500, "StatusBadGateway": 502, "StatusServiceUnavailable": 503,
	}
	s, ok := known[name]
	if !ok {
		t.Errorf("unknown status http.%s", name)
	}
	return s
}

// TestEveryErrorCodeIsDescribed: every (status, code) the service's code
// can answer is listed by the document under that status, and the
// document lists no code the service never answers; the README's list of
// codes names every one.
func TestEveryErrorCodeIsDescribed(t *testing.T) {
	doc := raw(t)
	documented := documentedCodes(t, doc)
	source := sourceCodes(t)
	if len(source) < 5 {
		t.Fatalf("found only %v in the source: the scan is broken", source)
	}
	for status, codes := range source {
		for code, where := range codes {
			if len(documented[status][code]) == 0 {
				t.Errorf("%s %s (%s) is not in the document", status, code, where)
			}
		}
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for status, codes := range documented {
		for code, ops := range codes {
			if _, ok := source[status][code]; !ok {
				t.Errorf("the document lists %s %s (%s), which the service never answers", status, code, strings.Join(ops, ", "))
			}
			if !strings.Contains(string(readme), "`"+code+"`") {
				t.Errorf("README does not name the code %s", code)
			}
		}
	}
}

// TestVendorsAreTheRegistry: the vendor enum is the registry's ids, the
// type enum its types.
func TestVendorsAreTheRegistry(t *testing.T) {
	schemas := raw(t)["components"].(map[string]any)["schemas"].(map[string]any)
	enum := func(name string) []string {
		var out []string
		for _, v := range schemas[name].(map[string]any)["enum"].([]any) {
			out = append(out, v.(string))
		}
		return out
	}
	if got, want := enum("VendorID"), vendors.IDs(vendors.Registry); !slices.Equal(got, want) {
		t.Errorf("VendorID %v, want the registry's %v", got, want)
	}
	var types []string
	for _, ty := range vendors.Types {
		types = append(types, string(ty))
	}
	if got := enum("VendorType"); !slices.Equal(got, types) {
		t.Errorf("VendorType %v, want %v", got, types)
	}
}

// TestExamplesMatchTheirSchemas: every example of a request or response
// body is valid against its own schema, so the examples a frontend reads
// are answers the service can give.
func TestExamplesMatchTheirSchemas(t *testing.T) {
	_, m := model(t)
	sv := schema_validation.NewSchemaValidator()
	n := 0
	check := func(where string, mt *v3.MediaType) {
		if mt == nil || mt.Schema == nil {
			return
		}
		schema := mt.Schema.Schema()
		if schema == nil {
			t.Errorf("%s: the schema does not build: %v", where, mt.Schema.GetBuildError())
			return
		}
		values := map[string]any{}
		if mt.Example != nil {
			values["example"] = mt.Example
		}
		if mt.Examples != nil {
			for name, ex := range mt.Examples.FromOldest() {
				values["examples/"+name] = ex.Value
			}
		}
		for name, node := range values {
			var v any
			if err := node.(interface{ Decode(any) error }).Decode(&v); err != nil {
				t.Errorf("%s %s: %v", where, name, err)
				continue
			}
			b, _ := json.Marshal(v)
			n++
			if ok, errs := sv.ValidateSchemaBytes(schema, b); !ok {
				for _, e := range errs {
					t.Errorf("%s %s does not match its schema: %s", where, name, e.Error())
				}
			}
		}
	}
	for p, item := range m.Paths.PathItems.FromOldest() {
		for method, op := range item.GetOperations().FromOldest() {
			where := strings.ToUpper(method) + " " + p
			if op.RequestBody != nil {
				check(where+" request", op.RequestBody.Content.GetOrZero("application/json"))
			}
			for status, r := range op.Responses.Codes.FromOldest() {
				if r.Content != nil {
					check(fmt.Sprintf("%s %s", where, status), r.Content.GetOrZero("application/json"))
				}
			}
		}
	}
	for name, r := range m.Components.Responses.FromOldest() {
		check("components/responses/"+name, r.Content.GetOrZero("application/json"))
	}
	if n < 20 {
		t.Fatalf("checked only %d examples", n)
	}
	t.Logf("%d examples match their schemas", n)
}
