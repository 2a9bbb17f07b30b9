// Command event-publisher publishes the state-change events: it reads the
// table's DynamoDB Stream (audit entries of connection actions) and puts
// one EventBridge event per committed change on EVENT_BUS_NAME.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/workplace/connections/shared/awsdeps"
	"github.com/workplace/connections/shared/handlers"
)

func main() {
	lambda.Start(awsdeps.Traced(handlers.EventPublisher(awsdeps.Load())))
}
