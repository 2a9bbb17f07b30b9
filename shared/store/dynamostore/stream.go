package dynamostore

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workplace/connections/shared/connection"
)

// The table's stream carries every committed write of the table, audit
// entries among them: the state-change events are published from it.

// AuditFromStreamRecord reads a record of the table's stream, as Lambda
// delivers it to the event publisher, as the audit entry it inserted: ok
// is false (and err nil) when the record inserted no audit entry (another
// item, or a change that is not an INSERT), and err says why an inserted
// audit item does not read. The record must carry its new image
// (StreamViewType NEW_IMAGE or NEW_AND_OLD_IMAGES).
func AuditFromStreamRecord(r events.DynamoDBEventRecord) (connection.AuditEntry, bool, error) {
	if r.EventName != string(events.DynamoDBOperationTypeInsert) {
		return connection.AuditEntry{}, false, nil
	}
	if len(r.Change.NewImage) == 0 {
		// Which item it was is in the keys: an audit one without its
		// image is an error, never skipped in silence.
		keys, err := fromLambda(r.Change.Keys)
		if err != nil {
			return connection.AuditEntry{}, false, fmt.Errorf("dynamostore: stream record %s: %w", r.Change.SequenceNumber, err)
		}
		if _, isAudit, _ := AuditFromItem(keys); isAudit {
			return connection.AuditEntry{}, true, fmt.Errorf("dynamostore: stream record %s inserted an audit entry but carries no new image (the stream's view type must include new images)", r.Change.SequenceNumber)
		}
		return connection.AuditEntry{}, false, nil
	}
	item, err := fromLambda(r.Change.NewImage)
	if err != nil {
		return connection.AuditEntry{}, false, fmt.Errorf("dynamostore: stream record %s: %w", r.Change.SequenceNumber, err)
	}
	e, ok, err := AuditFromItem(item)
	if err != nil {
		err = fmt.Errorf("dynamostore: stream record %s: %w", r.Change.SequenceNumber, err)
	}
	return e, ok, err
}

// fromLambda converts an image of Lambda's DynamoDB event, whose attribute
// values are aws-lambda-go's, into the SDK's attribute values.
func fromLambda(m map[string]events.DynamoDBAttributeValue) (map[string]types.AttributeValue, error) {
	out := make(map[string]types.AttributeValue, len(m))
	for k, v := range m {
		av, err := lambdaValue(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", k, err)
		}
		out[k] = av
	}
	return out, nil
}

func lambdaValue(v events.DynamoDBAttributeValue) (types.AttributeValue, error) {
	switch v.DataType() {
	case events.DataTypeString:
		return &types.AttributeValueMemberS{Value: v.String()}, nil
	case events.DataTypeNumber:
		return &types.AttributeValueMemberN{Value: v.Number()}, nil
	case events.DataTypeBinary:
		return &types.AttributeValueMemberB{Value: v.Binary()}, nil
	case events.DataTypeBoolean:
		return &types.AttributeValueMemberBOOL{Value: v.Boolean()}, nil
	case events.DataTypeNull:
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case events.DataTypeStringSet:
		return &types.AttributeValueMemberSS{Value: v.StringSet()}, nil
	case events.DataTypeNumberSet:
		return &types.AttributeValueMemberNS{Value: v.NumberSet()}, nil
	case events.DataTypeBinarySet:
		return &types.AttributeValueMemberBS{Value: v.BinarySet()}, nil
	case events.DataTypeList:
		l := v.List()
		out := make([]types.AttributeValue, len(l))
		for i, e := range l {
			av, err := lambdaValue(e)
			if err != nil {
				return nil, err
			}
			out[i] = av
		}
		return &types.AttributeValueMemberL{Value: out}, nil
	case events.DataTypeMap:
		m, err := fromLambda(v.Map())
		if err != nil {
			return nil, err
		}
		return &types.AttributeValueMemberM{Value: m}, nil
	}
	return nil, fmt.Errorf("unknown attribute type %d", v.DataType())
}

// StreamAPI is the part of the DynamoDB client EnableStream uses.
type StreamAPI interface {
	DescribeTable(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	UpdateTable(context.Context, *dynamodb.UpdateTableInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateTableOutput, error)
}

// EnableStream turns on the table's stream with new images, as the
// deployment template does, and returns its ARN. A table whose stream
// already carries new images is left as it is.
func EnableStream(ctx context.Context, db StreamAPI, table string) (string, error) {
	out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		return "", fmt.Errorf("dynamostore: describe table %s: %w", table, err)
	}
	if spec := out.Table.StreamSpecification; spec != nil && aws.ToBool(spec.StreamEnabled) && out.Table.LatestStreamArn != nil {
		if spec.StreamViewType != types.StreamViewTypeNewImage && spec.StreamViewType != types.StreamViewTypeNewAndOldImages {
			return "", fmt.Errorf("dynamostore: the stream of table %s carries no new images (%s)", table, spec.StreamViewType)
		}
		return aws.ToString(out.Table.LatestStreamArn), nil
	}
	up, err := db.UpdateTable(ctx, &dynamodb.UpdateTableInput{
		TableName:           aws.String(table),
		StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewImage},
	})
	if err != nil {
		return "", fmt.Errorf("dynamostore: enable the stream of %s: %w", table, err)
	}
	if up.TableDescription == nil || up.TableDescription.LatestStreamArn == nil {
		return "", errors.New("dynamostore: the table has no stream after enabling it")
	}
	return aws.ToString(up.TableDescription.LatestStreamArn), nil
}
