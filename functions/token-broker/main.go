// Command token-broker is the Lambda of POST /v1/internal/token (the
// platform's services, authorized by IAM).
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/workplace/connections/shared/awsdeps"
	"github.com/workplace/connections/shared/handlers"
)

func main() {
	lambda.Start(awsdeps.Traced(handlers.TokenBroker(awsdeps.Load())))
}
