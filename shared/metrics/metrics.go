// Package metrics publishes the service's CloudWatch metrics through its
// log lines, in the CloudWatch Embedded Metric Format (EMF): a JSON log
// line that carries an "_aws" member naming metrics and dimensions among
// its own top-level members is turned into metrics by CloudWatch Logs. No
// API call, no extra permission, nothing to flush; on Lambda, a JSON line
// on stdout or stderr is enough.
//
// Specification:
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
//
// Every metric the service emits is declared here (Catalogue), with the
// dimension sets it is published under; template.yaml's alarms are checked
// against this list and against what the code actually logs. Dimensions
// are low-cardinality only — a function's route, a status class, an
// error code, a vendor — never an account, user or request id: each
// distinct combination of dimension values is a custom metric of its own.
package metrics

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// DefaultNamespace is the CloudWatch namespace when none is configured
// (METRICS_NAMESPACE).
const DefaultNamespace = "IntegrationConnections"

// Unit is a CloudWatch unit.
type Unit string

// Units the service uses.
const (
	Count        Unit = "Count"
	Milliseconds Unit = "Milliseconds"
)

// Dimension names: top-level members of the line, PascalCase so that they
// never collide with the log fields (which are camelCase).
const (
	DimRoute       = "Route"       // the function's route name (list-integrations, oauth-callback, token-broker, …)
	DimStatusClass = "StatusClass" // 2xx, 4xx, 5xx
	DimCode        = "Code"        // the documented error code of an error answer
	DimVendor      = "Vendor"      // a vendor id of the registry
)

// Metric is one metric: its name (also the line's member holding its
// value), its unit, and the dimension sets it is published under (an
// empty set: the metric without dimensions).
type Metric struct {
	Name       string
	Unit       Unit
	Dimensions [][]string
}

// The service's metrics.
var (
	// Every API request, by route and by route and status class.
	Requests = Metric{"Requests", Count, [][]string{{DimRoute}, {DimRoute, DimStatusClass}}}
	// 1 for an answer of 5xx, else 0: its Average is the route's 5xx rate.
	ServerErrors = Metric{"ServerErrors", Count, [][]string{{DimRoute}}}
	// Every error answer (4xx, 5xx), by route and documented code.
	ErrorAnswers = Metric{"ErrorAnswers", Count, [][]string{{DimRoute, DimCode}}}
	// A request's time from its start to its answer.
	Latency = Metric{"Latency", Milliseconds, [][]string{{DimRoute}}}

	// The expiry scan's report, one value per run.
	ScanChecked   = Metric{"ScanChecked", Count, [][]string{{}}}
	ScanRefreshed = Metric{"ScanRefreshed", Count, [][]string{{}}}
	ScanExpired   = Metric{"ScanExpired", Count, [][]string{{}}}
	ScanFailed    = Metric{"ScanFailed", Count, [][]string{{}}} // connections that could not be checked
	ScanNotices   = Metric{"ScanNotices", Count, [][]string{{}}}
	ScanBusy      = Metric{"ScanBusy", Count, [][]string{{}}}
	// 1 when the run reached every due connection, 0 when it stopped at
	// its budget or deadline (the rest stays due).
	ScanComplete = Metric{"ScanComplete", Count, [][]string{{}}}
	// 1 when the run failed (connections failed or the due index could not
	// be read; the invocation is then an error), else 0.
	ScanRunFailed = Metric{"ScanRunFailed", Count, [][]string{{}}}

	// The token broker: a stored token answered, a token answered after a
	// refresh, a call answered 409 reconnect_required.
	BrokerHits      = Metric{"BrokerHits", Count, [][]string{{}, {DimVendor}}}
	BrokerRefreshes = Metric{"BrokerRefreshes", Count, [][]string{{}, {DimVendor}}}
	BrokerRefusals  = Metric{"BrokerRefusals", Count, [][]string{{}, {DimVendor}}}

	// The state-change events of one publisher invocation: published, and
	// records delivered again (failed).
	EventsPublished = Metric{"EventsPublished", Count, [][]string{{}}}
	EventsFailed    = Metric{"EventsFailed", Count, [][]string{{}}}

	// A grant found dead and marked expired (by the scan, the broker or
	// the live check), by vendor.
	DeadGrants = Metric{"DeadGrants", Count, [][]string{{DimVendor}}}
)

// Catalogue is every metric the service emits.
var Catalogue = []Metric{
	Requests, ServerErrors, ErrorAnswers, Latency,
	ScanChecked, ScanRefreshed, ScanExpired, ScanFailed, ScanNotices, ScanBusy, ScanComplete, ScanRunFailed,
	BrokerHits, BrokerRefreshes, BrokerRefusals,
	EventsPublished, EventsFailed,
	DeadGrants,
}

// Value is one metric's value on a line.
type Value struct {
	Metric Metric
	Value  float64
}

// V is a Value.
func V(m Metric, v float64) Value { return Value{m, v} }

// Bool is 1 for true, 0 for false.
func Bool(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

type nsKey struct{}

// WithNamespace returns a context whose metrics go to the CloudWatch
// namespace ns (the handlers set the configured one).
func WithNamespace(ctx context.Context, ns string) context.Context {
	return context.WithValue(ctx, nsKey{}, ns)
}

// Namespace is the context's namespace, else DefaultNamespace.
func Namespace(ctx context.Context) string {
	if ns, ok := ctx.Value(nsKey{}).(string); ok && ns != "" {
		return ns
	}
	return DefaultNamespace
}

// directive is EMF's MetricDirective.
type directive struct {
	Namespace  string       `json:"Namespace"`
	Dimensions [][]string   `json:"Dimensions"`
	Metrics    []definition `json:"Metrics"`
}

// definition is EMF's MetricDefinition.
type definition struct {
	Name string `json:"Name"`
	Unit Unit   `json:"Unit"`
}

// metadata is EMF's "_aws" member.
type metadata struct {
	Timestamp         int64       `json:"Timestamp"`
	CloudWatchMetrics []directive `json:"CloudWatchMetrics"`
}

// Attrs are the members that make a log line an EMF document: "_aws" (the
// metrics of values, in namespace ns, at now), the dimension members of
// dims, and one member per value. A metric one of whose dimensions dims
// lacks is left out (a programming error the tests catch), so a line is
// never an invalid document. Values of one metric are not repeated.
func Attrs(ns string, now time.Time, dims map[string]string, values ...Value) []slog.Attr {
	var dirs []directive // one per distinct list of dimension sets
	var attrs []slog.Attr
	var seen []string
	for _, v := range values {
		if slices.Contains(seen, v.Metric.Name) || !hasAll(dims, v.Metric.Dimensions) {
			continue
		}
		seen = append(seen, v.Metric.Name)
		def := definition{v.Metric.Name, v.Metric.Unit}
		if i := slices.IndexFunc(dirs, func(d directive) bool { return sameSets(d.Dimensions, v.Metric.Dimensions) }); i >= 0 {
			dirs[i].Metrics = append(dirs[i].Metrics, def)
		} else {
			dirs = append(dirs, directive{Namespace: ns, Dimensions: v.Metric.Dimensions, Metrics: []definition{def}})
		}
		attrs = append(attrs, slog.Float64(v.Metric.Name, v.Value))
	}
	if len(dirs) == 0 {
		return nil
	}
	keys := make([]string, 0, len(dims))
	for k := range dims {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := []slog.Attr{slog.Any("_aws", metadata{Timestamp: now.UnixMilli(), CloudWatchMetrics: dirs})}
	for _, k := range keys {
		out = append(out, slog.String(k, dims[k]))
	}
	return append(out, attrs...)
}

func sameSets(a, b [][]string) bool {
	return slices.EqualFunc(a, b, func(x, y []string) bool { return slices.Equal(x, y) })
}

func hasAll(dims map[string]string, sets [][]string) bool {
	for _, set := range sets {
		for _, d := range set {
			if _, ok := dims[d]; !ok {
				return false
			}
		}
	}
	return true
}

// Log writes one log line at level with msg, attrs, and the metrics of
// values (in the context's namespace, with dims), as an EMF document. The
// metrics ride on their line: a line the log level leaves out (LOG_LEVEL
// above INFO for the INFO lines) publishes nothing.
func Log(ctx context.Context, log *slog.Logger, level slog.Level, msg string, dims map[string]string, values []Value, attrs ...slog.Attr) {
	all := append(attrs, Attrs(Namespace(ctx), time.Now(), dims, values...)...)
	log.LogAttrs(ctx, level, msg, all...)
}

// Datum is one data point a log line publishes: a metric under one of its
// dimension sets.
type Datum struct {
	Namespace string
	Name      string
	Unit      Unit
	Dims      map[string]string // the dimension set's members and their values
	Value     float64
}

// Extract reads the data points of one log line as CloudWatch Logs would:
// none (and no error) for a line without "_aws"; an error for a line that
// has one but is no valid EMF document (the specification's rules: a
// Timestamp in milliseconds, directives with a namespace, dimension sets
// of at most 9 keys naming string members of the root, metric names
// naming numeric members). Tests and tools read lines with it.
func Extract(line []byte) ([]Datum, error) {
	var root map[string]json.RawMessage
	if err := json.Unmarshal(line, &root); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	raw, ok := root["_aws"]
	if !ok {
		return nil, nil
	}
	var meta struct {
		Timestamp         *json.Number `json:"Timestamp"`
		CloudWatchMetrics *[]struct {
			Namespace  string      `json:"Namespace"`
			Dimensions *[][]string `json:"Dimensions"`
			Metrics    []struct {
				Name string `json:"Name"`
				Unit Unit   `json:"Unit"`
			} `json:"Metrics"`
		} `json:"CloudWatchMetrics"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&meta); err != nil {
		return nil, fmt.Errorf("_aws: %w", err)
	}
	if meta.Timestamp == nil {
		return nil, errors.New("_aws without Timestamp")
	}
	if _, err := meta.Timestamp.Int64(); err != nil {
		return nil, fmt.Errorf("_aws.Timestamp is not milliseconds: %v", meta.Timestamp)
	}
	if meta.CloudWatchMetrics == nil {
		return nil, errors.New("_aws without CloudWatchMetrics")
	}
	str := func(k string) (string, bool) {
		var s string
		r, ok := root[k]
		return s, ok && json.Unmarshal(r, &s) == nil
	}
	num := func(k string) (float64, bool) {
		var f float64
		r, ok := root[k]
		return f, ok && json.Unmarshal(r, &f) == nil
	}
	var out []Datum
	for _, d := range *meta.CloudWatchMetrics {
		if d.Namespace == "" || len(d.Namespace) > 255 {
			return nil, fmt.Errorf("directive namespace %q", d.Namespace)
		}
		if d.Dimensions == nil || len(*d.Dimensions) == 0 {
			return nil, fmt.Errorf("directive of %s without dimension sets", d.Namespace)
		}
		if len(d.Metrics) == 0 || len(d.Metrics) > 100 {
			return nil, fmt.Errorf("directive with %d metrics", len(d.Metrics))
		}
		for _, m := range d.Metrics {
			v, ok := num(m.Name)
			if !ok {
				return nil, fmt.Errorf("metric %q is not a numeric member of the line", m.Name)
			}
			if m.Unit != "" && !slices.Contains(units, m.Unit) {
				return nil, fmt.Errorf("metric %q: unit %q", m.Name, m.Unit)
			}
			for _, set := range *d.Dimensions {
				if len(set) > 9 {
					return nil, fmt.Errorf("dimension set %v has more than 9 keys", set)
				}
				dims := map[string]string{}
				for _, k := range set {
					s, ok := str(k)
					if !ok {
						return nil, fmt.Errorf("dimension %q is not a string member of the line", k)
					}
					dims[k] = s
				}
				out = append(out, Datum{Namespace: d.Namespace, Name: m.Name, Unit: m.Unit, Dims: dims, Value: v})
			}
		}
	}
	return out, nil
}

// units are CloudWatch's units (MetricDatum).
var units = []Unit{"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
	"Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second", "Kilobytes/Second",
	"Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second",
	"Gigabits/Second", "Terabits/Second", "Count/Second", "None"}
