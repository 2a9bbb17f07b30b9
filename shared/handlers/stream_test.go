package handlers_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"gopkg.in/yaml.v3"

	"github.com/workplace/connections/shared/publisher"
	"github.com/workplace/connections/shared/store/layout"
)

// resource is a resource of template.yaml by logical id.
func resource(t *testing.T, id string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(read(t, "../../template.yaml")), &doc); err != nil {
		t.Fatal(err)
	}
	r := field(field(doc.Content[0], "Resources"), id)
	if r == nil {
		t.Fatalf("template.yaml has no resource %s", id)
	}
	return r
}

// scalar is the scalar at a path of mapping keys under n, with its tag.
func scalar(t *testing.T, n *yaml.Node, path ...string) (value, tag string) {
	t.Helper()
	for _, k := range path {
		n = field(n, k)
	}
	if n == nil || n.Kind != yaml.ScalarNode {
		t.Fatalf("no scalar at %s", strings.Join(path, "."))
	}
	return n.Value, n.Tag
}

// TestEventPublisherStream pins how the table's stream reaches the
// publisher: new images, from the oldest record, partial batch responses,
// split batches, bounded retries inside the stream's retention, an SQS
// dead-letter queue, and a filter that lets through exactly the INSERTs of
// audit entries of the connection actions that are events.
func TestEventPublisherStream(t *testing.T) {
	table := resource(t, "ConnectionsTable")
	if v, _ := scalar(t, table, "Properties", "StreamSpecification", "StreamViewType"); v != "NEW_IMAGE" && v != "NEW_AND_OLD_IMAGES" {
		t.Fatalf("the table's stream view type is %s: the publisher reads new images", v)
	}
	esm := resource(t, "EventPublisherStream")
	p := field(esm, "Properties")
	checks := []struct {
		path      []string
		value     string
		tag       string
		condition string
	}{
		{[]string{"FunctionName"}, "EventPublisherFunction", "!Ref", "the publisher is the target"},
		{[]string{"EventSourceArn"}, "ConnectionsTable.StreamArn", "!GetAtt", "the table's stream is the source"},
		{[]string{"StartingPosition"}, "TRIM_HORIZON", "!!str", "no committed record is skipped when the mapping starts"},
		{[]string{"BisectBatchOnFunctionError"}, "true", "!!bool", "a failing batch is split"},
		{[]string{"ParallelizationFactor"}, "1", "!!int", "a shard's records are published in order"},
		{[]string{"DestinationConfig", "OnFailure", "Destination"}, "EventsDeadLetterQueue.Arn", "!GetAtt", "what is given up on goes to the dead-letter queue"},
	}
	for _, c := range checks {
		if v, tag := scalar(t, p, c.path...); v != c.value || tag != c.tag {
			t.Errorf("%s is %s %s, want %s %s: %s", strings.Join(c.path, "."), tag, v, c.tag, c.value, c.condition)
		}
	}
	if rt := field(p, "FunctionResponseTypes"); rt == nil || len(rt.Content) != 1 || rt.Content[0].Value != "ReportBatchItemFailures" {
		t.Error("FunctionResponseTypes must be [ReportBatchItemFailures]: the publisher answers which records failed")
	}
	var retries, age int
	v, _ := scalar(t, p, "MaximumRetryAttempts")
	fmt.Sscan(v, &retries)
	v, _ = scalar(t, p, "MaximumRecordAgeInSeconds")
	fmt.Sscan(v, &age)
	if retries < 1 || age < 60 || age >= 24*3600 {
		t.Errorf("retries %d, record age %d s: bounded, and a record must reach the dead-letter queue before the stream's 24 hours drop it", retries, age)
	}
	if typ, _ := scalar(t, resource(t, "EventsDeadLetterQueue"), "Type"); typ != "AWS::SQS::Queue" {
		t.Errorf("the dead-letter queue is a %s", typ)
	}
	f := streamFilter(t)
	var pat struct {
		EventName []string `json:"eventName"`
		Dynamodb  struct {
			Keys struct {
				SK struct {
					S []struct {
						Prefix string `json:"prefix"`
					}
				}
			}
			NewImage struct {
				Action struct{ S []string }
			}
		} `json:"dynamodb"`
	}
	if err := json.Unmarshal(f.raw, &pat); err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range publisher.Actions() {
		actions = append(actions, string(a))
	}
	if !slices.Equal(pat.EventName, []string{"INSERT"}) || len(pat.Dynamodb.Keys.SK.S) != 1 || pat.Dynamodb.Keys.SK.S[0].Prefix != layout.AuditPrefix ||
		!slices.Equal(pat.Dynamodb.NewImage.Action.S, actions) {
		t.Errorf("the filter %s lets through more or less than INSERTs of %s entries of %v", f.raw, layout.AuditPrefix, actions)
	}
}

// TestNoPullEventsOnFunctions: no function takes a stream or queue through
// SAM's event (DynamoDB, Kinesis, SQS, …), which attaches an AWS managed
// policy with its actions on every resource, out of sight of the pinned
// grants; event source mappings are declared as resources instead.
func TestNoPullEventsOnFunctions(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(read(t, "../../template.yaml")), &doc); err != nil {
		t.Fatal(err)
	}
	res := field(doc.Content[0], "Resources")
	pull := []string{"DynamoDB", "Kinesis", "SQS", "MQ", "MSK", "SelfManagedKafka", "DocumentDB"}
	for i := 0; i+1 < len(res.Content); i += 2 {
		evs := field(field(res.Content[i+1], "Properties"), "Events")
		if evs == nil {
			continue
		}
		for j := 0; j+1 < len(evs.Content); j += 2 {
			if typ := field(evs.Content[j+1], "Type"); typ != nil && slices.Contains(pull, typ.Value) {
				t.Errorf("%s: event %s is a SAM %s event", res.Content[i].Value, evs.Content[j].Value, typ.Value)
			}
		}
	}
}

// filter is the event source mapping's filter pattern.
type filter struct {
	raw     json.RawMessage
	pattern map[string]any
}

func streamFilter(t *testing.T) filter {
	t.Helper()
	fs := field(field(field(resource(t, "EventPublisherStream"), "Properties"), "FilterCriteria"), "Filters")
	if fs == nil || len(fs.Content) != 1 {
		t.Fatal("the event source mapping must have exactly one filter")
	}
	raw, _ := scalar(t, fs.Content[0], "Pattern")
	f := filter{raw: json.RawMessage(raw)}
	if err := json.Unmarshal(f.raw, &f.pattern); err != nil {
		t.Fatalf("filter pattern %s: %v", raw, err)
	}
	return f
}

// matches applies the filter to a record as Lambda does, for the part of
// Lambda's filter rule syntax the pattern uses (exact values and prefix
// matching, https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html);
// any other rule fails the test rather than being guessed at.
func (f filter) matches(t *testing.T, r events.DynamoDBEventRecord) bool {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	return match(t, f.pattern, rec)
}

func match(t *testing.T, pattern map[string]any, v map[string]any) bool {
	t.Helper()
	for k, p := range pattern {
		got, ok := v[k]
		if !ok {
			return false
		}
		switch p := p.(type) {
		case map[string]any:
			sub, ok := got.(map[string]any)
			if !ok || !match(t, p, sub) {
				return false
			}
		case []any:
			s, ok := got.(string)
			if !ok {
				return false
			}
			if !slices.ContainsFunc(p, func(rule any) bool {
				switch rule := rule.(type) {
				case string:
					return rule == s
				case map[string]any:
					prefix, ok := rule["prefix"].(string)
					if !ok || len(rule) != 1 {
						t.Fatalf("filter rule %v is not one this test applies", rule)
					}
					return strings.HasPrefix(s, prefix)
				}
				t.Fatalf("filter rule %v is not one this test applies", rule)
				return false
			}) {
				return false
			}
		default:
			t.Fatalf("filter pattern %v at %s is not one this test applies", p, k)
		}
	}
	return true
}
