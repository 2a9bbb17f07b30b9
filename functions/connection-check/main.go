// Command connection-check is the Lambda of
// POST /v1/account/integrations/{vendor}/check (the live check).
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/workplace/connections/shared/awsdeps"
	"github.com/workplace/connections/shared/handlers"
)

func main() {
	lambda.Start(awsdeps.Traced(handlers.ConnectionCheck(awsdeps.Load())))
}
