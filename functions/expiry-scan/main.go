// Command expiry-scan is the scheduled scan: keep-alive refreshes, expiry
// marks and notices.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/workplace/connections/shared/awsdeps"
	"github.com/workplace/connections/shared/handlers"
)

func main() {
	lambda.Start(awsdeps.Traced(handlers.ExpiryScan(awsdeps.Load())))
}
