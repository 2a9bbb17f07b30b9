// Command audit is the Lambda of GET /v1/account/integrations/audit.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/workplace/connections/shared/awsdeps"
	"github.com/workplace/connections/shared/handlers"
)

func main() {
	lambda.Start(awsdeps.Traced(handlers.AuditTimeline(awsdeps.Load())))
}
