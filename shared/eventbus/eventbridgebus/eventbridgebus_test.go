package eventbridgebus_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/workplace/connections/shared/awstest"
	"github.com/workplace/connections/shared/eventbus"
	"github.com/workplace/connections/shared/eventbus/bustest"
	"github.com/workplace/connections/shared/eventbus/eventbridgebus"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// TestContract runs the bus contract on EventBridge as moto emulates it.
// Each subtest has an event bus of its own, with a rule that sends the
// contract's events to an SQS queue: what the queue received is what a
// subscriber got.
func TestContract(t *testing.T) {
	ac := awstest.Moto(t).Config(t)
	eb := eventbridge.NewFromConfig(ac)
	bustest.Run(t, func(t *testing.T) (eventbus.Bus, func() []eventbus.Event) {
		name := awstest.Unique("bus")
		read := awstest.Subscribe(t, ac, name, bustest.Source)
		return eventbridgebus.New(eb, name), read
	})
}
