package awstest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/workplace/connections/shared/eventbus"
)

// Subscribe creates the EventBridge event bus named bus (unless it is the
// account's "default" bus) and a rule on it that sends every event of
// source to a new SQS queue, as a subscriber of the service's events
// would. It returns what reads the queue: every event received so far,
// in the order the queue gave them. moto delivers to the queue within the
// PutEvents call, so there is nothing to wait for.
func Subscribe(t testing.TB, ac aws.Config, bus, source string) func() []eventbus.Event {
	t.Helper()
	ctx := context.Background()
	eb, q := eventbridge.NewFromConfig(ac), sqs.NewFromConfig(ac)
	if bus != "default" {
		if _, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(bus)}); err != nil {
			t.Fatalf("create event bus %s: %v", bus, err)
		}
	}
	queue, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(Unique("events"))})
	if err != nil {
		t.Fatalf("create queue: %v", err)
	}
	attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: queue.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		t.Fatalf("queue attributes: %v", err)
	}
	rule := Unique("rule")
	pattern, _ := json.Marshal(map[string][]string{"source": {source}})
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{
		Name: aws.String(rule), EventBusName: aws.String(bus), EventPattern: aws.String(string(pattern)),
	}); err != nil {
		t.Fatalf("put rule: %v", err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{
		Rule: aws.String(rule), EventBusName: aws.String(bus),
		Targets: []ebtypes.Target{{Id: aws.String("queue"), Arn: aws.String(attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)])}},
	}); err != nil {
		t.Fatalf("put targets: %v", err)
	}
	var (
		mu       sync.Mutex
		received []eventbus.Event
	)
	return func() []eventbus.Event {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		for {
			out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: queue.QueueUrl, MaxNumberOfMessages: 10})
			if err != nil {
				t.Fatalf("receive: %v", err)
			}
			if len(out.Messages) == 0 {
				return append([]eventbus.Event(nil), received...)
			}
			for _, m := range out.Messages {
				e, err := envelope(aws.ToString(m.Body))
				if err != nil {
					t.Fatalf("queue message %s: %v", aws.ToString(m.Body), err)
				}
				received = append(received, e)
				if _, err := q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: queue.QueueUrl, ReceiptHandle: m.ReceiptHandle}); err != nil {
					t.Fatalf("delete message: %v", err)
				}
			}
		}
	}
}

// envelope reads the event EventBridge sends a target.
func envelope(body string) (eventbus.Event, error) {
	var env struct {
		Source     string          `json:"source"`
		DetailType string          `json:"detail-type"`
		Detail     json.RawMessage `json:"detail"`
		Time       time.Time       `json:"time"`
	}
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		return eventbus.Event{}, err
	}
	if env.Source == "" || env.DetailType == "" || len(env.Detail) == 0 {
		return eventbus.Event{}, fmt.Errorf("not an EventBridge event")
	}
	return eventbus.Event{Source: env.Source, DetailType: env.DetailType, Detail: env.Detail, Time: env.Time}, nil
}
