package handlers_test

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/workplace/connections/shared/handlers"
	"github.com/workplace/connections/shared/metrics"
	"github.com/workplace/connections/shared/vendors"
)

// templateDoc is template.yaml's root mapping.
func templateDoc(t *testing.T) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(read(t, "../../template.yaml")), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Content[0]
}

// TestTemplateAlarmsReadEmittedMetrics: every CloudWatch alarm of
// template.yaml reads a metric the code emits — in the MetricsNamespace
// parameter's namespace, by a name of the metrics catalogue, with exactly
// one of that metric's dimension sets (TestMetricsOfEveryFlow proves the
// code emits each of them) — or the depth of one of the template's own SQS
// queues. Renaming a metric or a dimension in the code fails here until
// the alarms follow. The alarms the issue asks for are all there, each
// wired to AlarmTopicArn (when given) for ALARM and OK.
func TestTemplateAlarmsReadEmittedMetrics(t *testing.T) {
	root := templateDoc(t)
	res := field(root, "Resources")
	if p := field(field(root, "Parameters"), "MetricsNamespace"); p == nil {
		t.Fatal("no MetricsNamespace parameter")
	}
	if env := field(field(field(field(field(root, "Globals"), "Function"), "Environment"), "Variables"), "METRICS_NAMESPACE"); env == nil ||
		env.Tag != "!Ref" || env.Value != "MetricsNamespace" {
		t.Fatal("the functions' METRICS_NAMESPACE is not !Ref MetricsNamespace")
	}
	catalogue := map[string]metrics.Metric{}
	for _, m := range metrics.Catalogue {
		catalogue[m.Name] = m
	}
	type alarm struct{ metric, dims string }
	var got []alarm
	deadGrantVendors := map[string]bool{}
	for i := 0; i+1 < len(res.Content); i += 2 {
		id, r := res.Content[i].Value, res.Content[i+1]
		if field(r, "Type").Value != "AWS::CloudWatch::Alarm" {
			continue
		}
		p := field(r, "Properties")
		if field(p, "Metrics") != nil {
			t.Errorf("%s: metric math alarms are not read by this test; alarm on one metric", id)
			continue
		}
		for _, k := range []string{"AlarmActions", "OKActions"} {
			a := field(p, k)
			if a == nil || a.Tag != "!If" || a.Content[0].Value != "HasAlarmTopic" || a.Content[1].Content[0].Value != "AlarmTopicArn" ||
				a.Content[2].Value != "AWS::NoValue" {
				t.Errorf("%s: %s is not [AlarmTopicArn] when the topic is given, else none", id, k)
			}
		}
		// CloudWatch's limits (PutMetricAlarm): period × evaluation periods
		// at most 7 days, and 1 day for a period under an hour;
		// https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
		period, _ := strconv.Atoi(field(p, "Period").Value)
		evals, _ := strconv.Atoi(field(p, "EvaluationPeriods").Value)
		limit := 604800
		if period < 3600 {
			limit = 86400
		}
		if period <= 0 || period%60 != 0 || evals <= 0 || period*evals > limit {
			t.Errorf("%s: Period %d × EvaluationPeriods %d is not an evaluation range CloudWatch accepts", id, period, evals)
		}
		if d := field(p, "DatapointsToAlarm"); d != nil {
			if n, _ := strconv.Atoi(d.Value); n < 1 || n > evals {
				t.Errorf("%s: DatapointsToAlarm %s of %d periods", id, d.Value, evals)
			}
		}
		ns, name := field(p, "Namespace"), field(p, "MetricName").Value
		dims := map[string]*yaml.Node{}
		if d := field(p, "Dimensions"); d != nil {
			for _, dn := range d.Content {
				dims[field(dn, "Name").Value] = field(dn, "Value")
			}
		}
		keys := make([]string, 0, len(dims))
		for k := range dims {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		got = append(got, alarm{name, strings.Join(keys, ",")})
		if ns.Value == "AWS/SQS" {
			q := dims["QueueName"]
			if name != "ApproximateNumberOfMessagesVisible" || len(dims) != 1 || q == nil || q.Tag != "!GetAtt" ||
				!strings.HasSuffix(q.Value, ".QueueName") || field(field(res, strings.TrimSuffix(q.Value, ".QueueName")), "Type").Value != "AWS::SQS::Queue" {
				t.Errorf("%s: an AWS/SQS alarm must read the depth of one of the template's queues", id)
			}
			continue
		}
		if ns.Tag != "!Ref" || ns.Value != "MetricsNamespace" {
			t.Errorf("%s: namespace %s %s is not the metrics' (!Ref MetricsNamespace)", id, ns.Tag, ns.Value)
			continue
		}
		m, ok := catalogue[name]
		if !ok {
			t.Errorf("%s: the code emits no metric %q", id, name)
			continue
		}
		if !slices.ContainsFunc(m.Dimensions, func(set []string) bool {
			s := slices.Clone(set)
			sort.Strings(s)
			return slices.Equal(s, keys)
		}) {
			t.Errorf("%s: %s is emitted with dimensions %v, not %v", id, name, m.Dimensions, keys)
		}
		for k, v := range dims {
			switch k {
			case metrics.DimRoute:
				if !slices.ContainsFunc(handlersRoutes(), func(r string) bool { return r == v.Value }) {
					t.Errorf("%s: no route %q", id, v.Value)
				}
			case metrics.DimVendor:
				if _, ok := vendors.Lookup(v.Value); !ok {
					t.Errorf("%s: no vendor %q", id, v.Value)
				}
				if name == metrics.DeadGrants.Name {
					deadGrantVendors[v.Value] = true
				}
			}
		}
	}
	// What the issue asks for.
	for _, w := range []alarm{
		{"ScanRunFailed", ""}, {"ScanComplete", ""},
		{"ServerErrors", "Route"}, // the callback's and the broker's 5xx rate (both checked below)
		{"ApproximateNumberOfMessagesVisible", "QueueName"},
		{"EventsFailed", ""},
	} {
		if !slices.Contains(got, w) {
			t.Errorf("no alarm on %s by [%s]", w.metric, w.dims)
		}
	}
	tmpl := read(t, "../../template.yaml")
	for _, route := range []string{"oauth-callback", "token-broker"} {
		if !strings.Contains(tmpl, "      MetricName: ServerErrors\n      Dimensions:\n        - Name: Route\n          Value: "+route+"\n") {
			t.Errorf("no 5xx rate alarm of %s", route)
		}
	}
	for _, q := range []string{"ScanScheduleDeadLetterQueue", "EventsDeadLetterQueue"} {
		if !strings.Contains(tmpl, "Value: !GetAtt "+q+".QueueName") {
			t.Errorf("no depth alarm on %s", q)
		}
	}
	for _, v := range vendors.Registry {
		if !deadGrantVendors[v.ID] {
			t.Errorf("no dead-grants alarm for vendor %s", v.ID)
		}
	}
}

// handlersRoutes are the route names (the Route dimension's values).
func handlersRoutes() []string {
	var out []string
	for _, r := range handlers.Routes {
		out = append(out, r.Function)
	}
	return out
}

// TestTemplateTracesEveryFunction: X-Ray active tracing for every function
// (Globals; none opts out). With it, SAM attaches the AWS managed policy
// AWSXRayDaemonWriteAccess (xray:PutTraceSegments, xray:PutTelemetryRecords
// and the sampling reads, on "*") to each function's role: the one grant
// outside the inline policies TestTemplateIAMIsExact pins.
func TestTemplateTracesEveryFunction(t *testing.T) {
	root := templateDoc(t)
	if tr := field(field(field(root, "Globals"), "Function"), "Tracing"); tr == nil || tr.Value != "Active" {
		t.Fatal("Globals.Function.Tracing is not Active")
	}
	res := field(root, "Resources")
	n := 0
	for i := 0; i+1 < len(res.Content); i += 2 {
		r := res.Content[i+1]
		if field(r, "Type").Value != "AWS::Serverless::Function" {
			continue
		}
		n++
		if tr := field(field(r, "Properties"), "Tracing"); tr != nil && tr.Value != "Active" {
			t.Errorf("%s: Tracing %s", res.Content[i].Value, tr.Value)
		}
	}
	if n != len(functionIDs(t)) {
		t.Errorf("%d functions in the template, %d in the Makefile", n, len(functionIDs(t)))
	}
}
