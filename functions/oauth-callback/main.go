// Command oauth-callback is the Lambda of the oauth-callback route.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/workplace/connections/shared/awsdeps"
	"github.com/workplace/connections/shared/handlers"
)

func main() {
	lambda.Start(awsdeps.Traced(handlers.OAuthCallback(awsdeps.Load())))
}
