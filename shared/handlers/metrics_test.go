package handlers_test

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/metrics"
)

// vendorAnswer is a vendor transport answering every token request with
// status and body.
type vendorAnswer struct {
	status int
	body   string
}

func (v vendorAnswer) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_ = r.Body.Close()
	}
	if !strings.HasSuffix(r.URL.Path, "/oauth_token.do") {
		return nil, fmt.Errorf("unexpected vendor call %s", r.URL)
	}
	return &http.Response{StatusCode: v.status, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(v.body)), Request: r}, nil
}

// points reads every log line of h as CloudWatch Logs would, failing on a
// line that carries metrics but is no valid EMF document.
func points(t *testing.T, h *harness) []metrics.Datum {
	t.Helper()
	var out []metrics.Datum
	for _, l := range strings.Split(strings.TrimSpace(h.log.String()), "\n") {
		ds, err := metrics.Extract([]byte(l))
		if err != nil {
			t.Fatalf("invalid EMF line %s: %v", l, err)
		}
		out = append(out, ds...)
	}
	return out
}

// find is the point of metric m with exactly dims, if any.
func find(ds []metrics.Datum, m metrics.Metric, dims map[string]string) (metrics.Datum, bool) {
	for _, d := range ds {
		if d.Name != m.Name || len(d.Dims) != len(dims) {
			continue
		}
		same := true
		for k, v := range dims {
			if d.Dims[k] != v {
				same = false
			}
		}
		if same {
			return d, true
		}
	}
	return metrics.Datum{}, false
}

func want(t *testing.T, ds []metrics.Datum, m metrics.Metric, dims map[string]string, value float64) {
	t.Helper()
	d, ok := find(ds, m, dims)
	if !ok {
		t.Fatalf("no %s %v among %+v", m.Name, dims, ds)
	}
	if d.Value != value || d.Unit != m.Unit {
		t.Fatalf("%s %v = %v %s, want %v %s", m.Name, dims, d.Value, d.Unit, value, m.Unit)
	}
}

// TestMetricsOfEveryFlow runs the flows behind every metric of the
// catalogue through the handlers and reads the metrics back from the log
// lines: each metric is emitted, in the configured namespace, under every
// one of its dimension sets, with the values the flow should give. A
// metric the code stops emitting, or emits under another name or other
// dimensions, fails here (and template.yaml's alarms are checked against
// the same catalogue).
func TestMetricsOfEveryFlow(t *testing.T) {
	all := samples(t)
	const ns = "Connections/metrics-test"
	var seen []metrics.Datum
	run := func(name string, f func(t *testing.T, h *harness)) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			h.d.Config.MetricsNamespace = ns
			f(t, h)
			ds := points(t, h)
			for _, d := range ds {
				if d.Namespace != ns {
					t.Fatalf("%s in namespace %q", d.Name, d.Namespace)
				}
			}
			seen = append(seen, ds...)
		})
	}
	route := func(r string) map[string]string { return map[string]string{metrics.DimRoute: r} }
	vendor := map[string]string{metrics.DimVendor: "servicenow"}

	run("a 200 of a route", func(t *testing.T, h *harness) {
		wantStatus(t, h.invokeAPI(t, all["list-integrations.json"]), http.StatusOK, "")
		ds := points(t, h)
		want(t, ds, metrics.Requests, route("list-integrations"), 1)
		want(t, ds, metrics.Requests, map[string]string{metrics.DimRoute: "list-integrations", metrics.DimStatusClass: "2xx"}, 1)
		want(t, ds, metrics.ServerErrors, route("list-integrations"), 0)
		if _, ok := find(ds, metrics.Latency, route("list-integrations")); !ok {
			t.Fatal("no Latency")
		}
		if _, ok := find(ds, metrics.ErrorAnswers, map[string]string{metrics.DimRoute: "list-integrations", metrics.DimCode: ""}); ok {
			t.Fatal("ErrorAnswers on a 200")
		}
	})
	run("a 400 of a route, by code", func(t *testing.T, h *harness) {
		wantStatus(t, h.invokeAPI(t, all["list-integrations-bad-type.json"]), http.StatusBadRequest, "invalid_type")
		ds := points(t, h)
		want(t, ds, metrics.ErrorAnswers, map[string]string{metrics.DimRoute: "list-integrations", metrics.DimCode: "invalid_type"}, 1)
		want(t, ds, metrics.Requests, map[string]string{metrics.DimRoute: "list-integrations", metrics.DimStatusClass: "4xx"}, 1)
		want(t, ds, metrics.ServerErrors, route("list-integrations"), 0)
	})
	run("a broker hit", func(t *testing.T, h *harness) {
		h.seedSettings(t, all)
		h.seedLiveConnection(t, connection.AppKey(sampleAccount, "servicenow"), "https://acme.service-now.com")
		wantStatus(t, h.invokeAPI(t, all["token-broker.json"]), http.StatusOK, "")
		ds := points(t, h)
		want(t, ds, metrics.BrokerHits, vendor, 1)
		want(t, ds, metrics.BrokerHits, nil, 1)
		if _, ok := find(ds, metrics.BrokerRefreshes, nil); ok {
			t.Fatal("a hit counted as a refresh")
		}
	})
	run("a broker refresh", func(t *testing.T, h *harness) {
		h.seedSettings(t, all)
		h.seedConnection(t, connection.AppKey(sampleAccount, "servicenow"), "https://acme.service-now.com")
		h.d.HTTP = &http.Client{Transport: vendorAnswer{200, `{"access_token":"fresh-access","refresh_token":"fresh-refresh","token_type":"Bearer","expires_in":1800}`}}
		wantStatus(t, h.invokeAPI(t, all["token-broker.json"]), http.StatusOK, "")
		ds := points(t, h)
		want(t, ds, metrics.BrokerRefreshes, vendor, 1)
		want(t, ds, metrics.BrokerRefreshes, nil, 1)
	})
	run("a broker refusal: a dead grant", func(t *testing.T, h *harness) {
		h.seedSettings(t, all)
		h.seedConnection(t, connection.AppKey(sampleAccount, "servicenow"), "https://acme.service-now.com")
		h.d.HTTP = &http.Client{Transport: vendorAnswer{400, `{"error":"invalid_grant","error_description":"refresh token revoked"}`}}
		wantStatus(t, h.invokeAPI(t, all["token-broker.json"]), http.StatusConflict, "reconnect_required")
		ds := points(t, h)
		want(t, ds, metrics.BrokerRefusals, vendor, 1)
		want(t, ds, metrics.BrokerRefusals, nil, 1)
		want(t, ds, metrics.DeadGrants, vendor, 1)
		want(t, ds, metrics.ErrorAnswers, map[string]string{metrics.DimRoute: "token-broker", metrics.DimCode: "reconnect_required"}, 1)
	})
	run("a 5xx of a route", func(t *testing.T, h *harness) {
		h.seedSettings(t, all)
		h.seedConnection(t, connection.AppKey(sampleAccount, "servicenow"), "https://acme.service-now.com")
		wantStatus(t, h.invokeAPI(t, all["token-broker.json"]), http.StatusServiceUnavailable, "vendor_unavailable")
		ds := points(t, h)
		want(t, ds, metrics.ServerErrors, route("token-broker"), 1)
		want(t, ds, metrics.Requests, map[string]string{metrics.DimRoute: "token-broker", metrics.DimStatusClass: "5xx"}, 1)
		want(t, ds, metrics.ErrorAnswers, map[string]string{metrics.DimRoute: "token-broker", metrics.DimCode: "vendor_unavailable"}, 1)
	})
	run("a scan run", func(t *testing.T, h *harness) {
		h.seedSettings(t, all)
		h.seedLiveConnection(t, connection.AppKey(sampleAccount, "servicenow"), "https://acme.service-now.com")
		rep := h.invokeScan(t, all["expiry-scan.json"])
		ds := points(t, h)
		for m, v := range map[*metrics.Metric]float64{
			&metrics.ScanChecked: float64(rep.Checked), &metrics.ScanRefreshed: float64(rep.Refreshed), &metrics.ScanExpired: float64(rep.Expired),
			&metrics.ScanFailed: float64(rep.Failed), &metrics.ScanNotices: float64(rep.Notices), &metrics.ScanBusy: float64(rep.Busy),
			&metrics.ScanComplete: 1, &metrics.ScanRunFailed: 0,
		} {
			want(t, ds, *m, nil, v)
		}
		if rep.Checked != 1 || rep.Notices != 1 {
			t.Fatalf("the run did not do the work the test means: %+v", rep)
		}
	})
	run("events published", func(t *testing.T, h *harness) {
		resp := h.invokeStream(t, all["event-publisher.json"])
		ds := points(t, h)
		d, ok := find(ds, metrics.EventsPublished, nil)
		if !ok || d.Value < 1 || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("EventsPublished %+v (%v), failures %v", d, ok, resp.BatchItemFailures)
		}
		want(t, ds, metrics.EventsFailed, nil, 0)
	})

	// Every metric of the catalogue, under each of its dimension sets.
	for _, m := range metrics.Catalogue {
		for _, set := range m.Dimensions {
			ok := slices.ContainsFunc(seen, func(d metrics.Datum) bool {
				if d.Name != m.Name || len(d.Dims) != len(set) {
					return false
				}
				for _, k := range set {
					if _, has := d.Dims[k]; !has {
						return false
					}
				}
				return true
			})
			if !ok {
				t.Errorf("metric %s with dimensions %v is never emitted", m.Name, set)
			}
		}
	}
}
