// Command integration-settings is the Lambda of the integration-settings route.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/workplace/connections/shared/awsdeps"
	"github.com/workplace/connections/shared/handlers"
)

func main() {
	lambda.Start(awsdeps.Traced(handlers.IntegrationSettings(awsdeps.Load())))
}
