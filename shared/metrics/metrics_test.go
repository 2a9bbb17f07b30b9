package metrics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/workplace/connections/shared/metrics"
)

// line logs one line with metrics through slog's JSON handler and answers
// it raw.
func line(t *testing.T, ctx context.Context, dims map[string]string, values ...metrics.Value) []byte {
	t.Helper()
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil)).With("requestId", "r-1", "route", "oauth-callback")
	metrics.Log(ctx, log, slog.LevelInfo, "request", dims, values, slog.Int("status", 502))
	return bytes.TrimSpace(buf.Bytes())
}

func TestLineIsAnEMFDocument(t *testing.T) {
	ctx := metrics.WithNamespace(context.Background(), "Connections/test")
	raw := line(t, ctx, map[string]string{metrics.DimRoute: "oauth-callback", metrics.DimStatusClass: "5xx", metrics.DimCode: "vendor_error"},
		metrics.V(metrics.Requests, 1), metrics.V(metrics.ServerErrors, 1), metrics.V(metrics.ErrorAnswers, 1), metrics.V(metrics.Latency, 42))

	// The structure, as the specification spells it.
	var doc struct {
		AWS struct {
			Timestamp         json.Number
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if ms, err := doc.AWS.Timestamp.Int64(); err != nil || time.Since(time.UnixMilli(ms)).Abs() > time.Minute {
		t.Fatalf("Timestamp %v is not now in milliseconds: %s", doc.AWS.Timestamp, raw)
	}
	got := map[string]string{}
	for _, d := range doc.AWS.CloudWatchMetrics {
		if d.Namespace != "Connections/test" {
			t.Fatalf("directive %+v", d)
		}
		dims, _ := json.Marshal(d.Dimensions)
		for _, m := range d.Metrics {
			got[m.Name] = m.Unit + " " + string(dims)
		}
	}
	// Metrics of the same dimension sets share one directive.
	if len(doc.AWS.CloudWatchMetrics) != 3 {
		t.Errorf("%d directives, want 3 (ServerErrors and Latency share [[Route]])", len(doc.AWS.CloudWatchMetrics))
	}
	want := map[string]string{
		"Requests":     `Count [["Route"],["Route","StatusClass"]]`,
		"ServerErrors": `Count [["Route"]]`,
		"ErrorAnswers": `Count [["Route","Code"]]`,
		"Latency":      `Milliseconds [["Route"]]`,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
	// The values and dimensions are members of the root; the log's own
	// fields stay as they were.
	var root map[string]any
	_ = json.Unmarshal(raw, &root)
	for k, v := range map[string]any{"Route": "oauth-callback", "StatusClass": "5xx", "Code": "vendor_error", "Requests": 1.0,
		"ServerErrors": 1.0, "ErrorAnswers": 1.0, "Latency": 42.0, "route": "oauth-callback", "status": 502.0, "requestId": "r-1"} {
		if root[k] != v {
			t.Errorf("member %s = %v, want %v", k, root[k], v)
		}
	}
	// Extract reads it as CloudWatch would: one point per dimension set.
	ds, err := metrics.Extract(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 5 {
		t.Fatalf("%d data points, want 5: %+v", len(ds), ds)
	}
}

func TestDefaultNamespaceAndDimensionlessMetrics(t *testing.T) {
	raw := line(t, context.Background(), nil, metrics.V(metrics.ScanChecked, 7), metrics.V(metrics.ScanComplete, metrics.Bool(true)))
	ds, err := metrics.Extract(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 || ds[0].Namespace != metrics.DefaultNamespace || ds[0].Name != "ScanChecked" || ds[0].Value != 7 || len(ds[0].Dims) != 0 ||
		ds[1].Name != "ScanComplete" || ds[1].Value != 1 {
		t.Fatalf("points %+v", ds)
	}
}

// A metric whose dimension the line lacks is left out rather than making
// the line an invalid document; a line with no metric left has no _aws.
func TestMissingDimensionLeavesTheMetricOut(t *testing.T) {
	raw := line(t, context.Background(), map[string]string{metrics.DimRoute: "audit"}, metrics.V(metrics.ErrorAnswers, 1))
	if strings.Contains(string(raw), "_aws") || strings.Contains(string(raw), "ErrorAnswers") {
		t.Fatalf("a metric without its Code dimension: %s", raw)
	}
	raw = line(t, context.Background(), map[string]string{metrics.DimRoute: "audit"}, metrics.V(metrics.ErrorAnswers, 1), metrics.V(metrics.Latency, 3))
	ds, err := metrics.Extract(raw)
	if err != nil || len(ds) != 1 || ds[0].Name != "Latency" {
		t.Fatalf("%+v %v: %s", ds, err, raw)
	}
}

func TestExtractRefusesInvalidDocuments(t *testing.T) {
	for name, raw := range map[string]string{
		"no timestamp":        `{"_aws":{"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"M"}]}]},"M":1}`,
		"no directives":       `{"_aws":{"Timestamp":1}}`,
		"metric not a member": `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"M"}]}]}}`,
		"metric not a number": `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"M"}]}]},"M":"1"}`,
		"dimension missing":   `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["D"]],"Metrics":[{"Name":"M"}]}]},"M":1}`,
		"dimension a number":  `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["D"]],"Metrics":[{"Name":"M"}]}]},"M":1,"D":2}`,
		"no dimension sets":   `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Metrics":[{"Name":"M"}]}]},"M":1}`,
		"no namespace":        `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Dimensions":[[]],"Metrics":[{"Name":"M"}]}]},"M":1}`,
		"bad unit":            `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"M","Unit":"Apples"}]}]},"M":1}`,
	} {
		if ds, err := metrics.Extract([]byte(raw)); err == nil {
			t.Errorf("%s: accepted as %+v", name, ds)
		}
	}
	if ds, err := metrics.Extract([]byte(`{"msg":"plain"}`)); err != nil || ds != nil {
		t.Fatalf("a plain line: %+v %v", ds, err)
	}
}

// Every metric of the catalogue has a unique name, a unit, at least one
// dimension set, and only the service's low-cardinality dimensions.
func TestCatalogue(t *testing.T) {
	seen := map[string]bool{}
	allowed := map[string]bool{metrics.DimRoute: true, metrics.DimStatusClass: true, metrics.DimCode: true, metrics.DimVendor: true}
	for _, m := range metrics.Catalogue {
		if seen[m.Name] || m.Name == "" || m.Unit == "" || len(m.Dimensions) == 0 {
			t.Errorf("metric %+v", m)
		}
		seen[m.Name] = true
		for _, set := range m.Dimensions {
			for _, d := range set {
				if !allowed[d] {
					t.Errorf("%s: dimension %q", m.Name, d)
				}
			}
		}
	}
}
