// Package streampoll reads a DynamoDB table's stream with the DynamoDB
// Streams API, as Lambda's event source mapping does, and hands the
// records over in the shape of Lambda's DynamoDB event. The local server
// (BACKEND=aws) and tests use it to run the event publisher's handler on
// what a table's stream really carried. Local only: no Lambda links it.
package streampoll

import (
	"context"
	"fmt"
	"sort"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// API is the part of the DynamoDB Streams client the poller uses.
type API interface {
	DescribeStream(context.Context, *dynamodbstreams.DescribeStreamInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error)
	GetShardIterator(context.Context, *dynamodbstreams.GetShardIteratorInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(context.Context, *dynamodbstreams.GetRecordsInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

// Poller reads one stream from its beginning, remembering how far it got
// in each shard. Not safe for concurrent use.
type Poller struct {
	api  API
	arn  string
	last map[string]string // shard id → the sequence number of the last record read
}

// New is a poller of the stream arn that has read nothing yet.
func New(api API, arn string) *Poller {
	return &Poller{api: api, arn: arn, last: map[string]string{}}
}

// ARN is the stream's ARN.
func (p *Poller) ARN() string { return p.arn }

// Read returns the records written to the stream since the last Read (all
// of them the first time), shard by shard in shard order, each shard's in
// stream order, as records of Lambda's DynamoDB event. It reads what the
// stream holds now: records not yet readable wait for the next Read.
func (p *Poller) Read(ctx context.Context) ([]events.DynamoDBEventRecord, error) {
	desc, err := p.api.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(p.arn)})
	if err != nil {
		return nil, fmt.Errorf("streampoll: describe stream: %w", err)
	}
	shards := desc.StreamDescription.Shards
	sort.Slice(shards, func(i, j int) bool { return aws.ToString(shards[i].ShardId) < aws.ToString(shards[j].ShardId) })
	var out []events.DynamoDBEventRecord
	for _, sh := range shards {
		id := aws.ToString(sh.ShardId)
		in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(p.arn), ShardId: sh.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon}
		if seq := p.last[id]; seq != "" {
			in.ShardIteratorType, in.SequenceNumber = types.ShardIteratorTypeAfterSequenceNumber, aws.String(seq)
		}
		it, err := p.api.GetShardIterator(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("streampoll: shard iterator of %s: %w", id, err)
		}
		iter := it.ShardIterator
		for iter != nil {
			recs, err := p.api.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				return nil, fmt.Errorf("streampoll: records of %s: %w", id, err)
			}
			if len(recs.Records) == 0 {
				break // nothing more now (an open shard always has a next iterator)
			}
			for _, r := range recs.Records {
				out = append(out, Lambda(r, p.arn))
				if r.Dynamodb != nil {
					p.last[id] = aws.ToString(r.Dynamodb.SequenceNumber)
				}
			}
			iter = recs.NextShardIterator
		}
	}
	return out, nil
}

// Lambda is a record of the DynamoDB Streams API as Lambda hands it to a
// function (events.DynamoDBEventRecord) from the stream arn.
func Lambda(r types.Record, arn string) events.DynamoDBEventRecord {
	out := events.DynamoDBEventRecord{
		AWSRegion: aws.ToString(r.AwsRegion), EventID: aws.ToString(r.EventID), EventName: string(r.EventName),
		EventSource: aws.ToString(r.EventSource), EventVersion: aws.ToString(r.EventVersion), EventSourceArn: arn,
	}
	if r.UserIdentity != nil {
		out.UserIdentity = &events.DynamoDBUserIdentity{Type: aws.ToString(r.UserIdentity.Type), PrincipalID: aws.ToString(r.UserIdentity.PrincipalId)}
	}
	if d := r.Dynamodb; d != nil {
		out.Change = events.DynamoDBStreamRecord{
			Keys: image(d.Keys), NewImage: image(d.NewImage), OldImage: image(d.OldImage),
			SequenceNumber: aws.ToString(d.SequenceNumber), SizeBytes: aws.ToInt64(d.SizeBytes), StreamViewType: string(d.StreamViewType),
		}
		if d.ApproximateCreationDateTime != nil {
			out.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: *d.ApproximateCreationDateTime}
		}
	}
	return out
}

func image(m map[string]types.AttributeValue) map[string]events.DynamoDBAttributeValue {
	if m == nil {
		return nil
	}
	out := make(map[string]events.DynamoDBAttributeValue, len(m))
	for k, v := range m {
		out[k] = value(v)
	}
	return out
}

func value(v types.AttributeValue) events.DynamoDBAttributeValue {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return events.NewStringAttribute(v.Value)
	case *types.AttributeValueMemberN:
		return events.NewNumberAttribute(v.Value)
	case *types.AttributeValueMemberB:
		return events.NewBinaryAttribute(v.Value)
	case *types.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(v.Value)
	case *types.AttributeValueMemberSS:
		return events.NewStringSetAttribute(v.Value)
	case *types.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(v.Value)
	case *types.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(v.Value)
	case *types.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, len(v.Value))
		for i, e := range v.Value {
			l[i] = value(e)
		}
		return events.NewListAttribute(l)
	case *types.AttributeValueMemberM:
		return events.NewMapAttribute(image(v.Value))
	}
	return events.NewNullAttribute() // NULL (and any type added later)
}
