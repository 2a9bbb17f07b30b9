// Command notifications is the Lambda of GET /v1/me/notifications and
// POST /v1/me/notifications/{id}/dismiss.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/workplace/connections/shared/awsdeps"
	"github.com/workplace/connections/shared/handlers"
)

func main() {
	lambda.Start(awsdeps.Traced(handlers.Notifications(awsdeps.Load())))
}
