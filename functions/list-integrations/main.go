// Command list-integrations is the Lambda behind GET /v1/account/integrations.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/workplace/connections/shared/awsdeps"
	"github.com/workplace/connections/shared/handlers"
)

func main() {
	lambda.Start(awsdeps.Traced(handlers.ListIntegrations(awsdeps.Load())))
}
