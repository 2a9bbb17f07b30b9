package dynamostore

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/layout"
)

// Apply writes all ops in one transaction (a single op as one conditional
// write, which cannot clash with writes of the same item). A failed
// condition is ErrConflict and nothing is written.
func (s *Store) Apply(ctx context.Context, ops ...store.Op) error {
	if len(ops) == 0 {
		return nil
	}
	if err := layout.CheckOps(ops); err != nil {
		return fmt.Errorf("dynamostore: %w", err)
	}
	writes := make([]types.TransactWriteItem, len(ops))
	for i, op := range ops {
		w, err := s.write(op)
		if err != nil {
			return fmt.Errorf("dynamostore: apply: op %d: %w", i+1, err)
		}
		writes[i] = w
	}
	err := retry(ctx, func() error {
		if len(writes) == 1 && writes[0].ConditionCheck == nil {
			return s.writeOne(ctx, writes[0])
		}
		_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: writes})
		return err
	})
	if i, ok := conditionFailed(err); ok {
		if i < 0 || i >= len(ops) {
			i = 0
		}
		return conflict(fmt.Sprintf("apply: op %d (%T)", i+1, ops[i]))
	}
	if err != nil {
		return failed("apply", err)
	}
	return nil
}

// Conditions on an item: that it exists, and that it does not.
var (
	itemExists = expression.AttributeExists(expression.Name("PK"))
	itemAbsent = expression.AttributeNotExists(expression.Name("PK"))
)

// write is the transaction item of op.
func (s *Store) write(op store.Op) (types.TransactWriteItem, error) {
	it, _ := layout.OpItem(op) // vetted by CheckOps
	version := expression.Name("Version")
	switch op := op.(type) {
	case store.CreateConnection:
		return s.put(op.Conn, 1, itemAbsent)
	case store.UpdateConnection:
		return s.put(op.Conn, op.Conn.Version+1, version.Equal(expression.Value(op.Conn.Version)))
	case store.DeleteConnection:
		return s.delete(it, version.Equal(expression.Value(op.Version)))
	case store.PutSettings:
		cond := version.Equal(expression.Value(op.Settings.Version))
		if op.Settings.Version == 0 {
			cond = itemAbsent
		}
		return s.putItem(newSettingsRecord(op.Settings, op.Settings.Version+1), cond)
	case store.AdjustCounts:
		add := expression.Add(expression.Name("Total"), expression.Value(op.Total)).
			Add(expression.Name("Connected"), expression.Value(op.Connected))
		return s.update(it, add, expression.ConditionBuilder{}) // unconditional
	case store.DeleteNotice:
		return types.TransactWriteItem{Delete: &types.Delete{TableName: s.table, Key: itemKey(it)}}, nil
	case store.CheckConnection:
		return s.check(it, itemExists)
	case store.CheckNoUsers:
		return s.check(it, itemAbsent.Or(expression.Name("Total").LessThanEqual(expression.Value(0))))
	case store.AppendAudit:
		return s.appendAudit(op.Entry)
	case store.AddNotice:
		return s.putItem(newNoticeRecord(op.Notice), itemAbsent)
	case store.NoticeSent:
		return s.update(it, expression.Set(expression.Name("SentAt"), expression.Value(layout.Time(op.At))),
			expression.Name("ClaimOwner").Equal(expression.Value(op.Owner)))
	}
	return types.TransactWriteItem{}, fmt.Errorf("unknown op %T", op)
}

// check is a condition on an item that writes nothing.
func (s *Store) check(it layout.Item, cond expression.ConditionBuilder) (types.TransactWriteItem, error) {
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName:                 s.table,
		Key:                       itemKey(it),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	}}, nil
}

// put is the conditional put of a connection at a version.
func (s *Store) put(c connection.Connection, version int64, cond expression.ConditionBuilder) (types.TransactWriteItem, error) {
	r, err := newConnRecord(c, version)
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return s.putItem(r, cond)
}

// putItem is the conditional put of a record.
func (s *Store) putItem(record any, cond expression.ConditionBuilder) (types.TransactWriteItem, error) {
	item, err := attributevalue.MarshalMap(record)
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return types.TransactWriteItem{Put: &types.Put{
		TableName:                 s.table,
		Item:                      item,
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	}}, nil
}

// delete is the conditional delete of an item.
func (s *Store) delete(it layout.Item, cond expression.ConditionBuilder) (types.TransactWriteItem, error) {
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return types.TransactWriteItem{Delete: &types.Delete{
		TableName:                 s.table,
		Key:                       itemKey(it),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	}}, nil
}

// update is the update of an item, under cond unless cond is unset. The
// single updates outside Apply are built with it too (see updateInput).
func (s *Store) update(it layout.Item, upd expression.UpdateBuilder, cond expression.ConditionBuilder) (types.TransactWriteItem, error) {
	b := expression.NewBuilder().WithUpdate(upd)
	if cond.IsSet() {
		b = b.WithCondition(cond)
	}
	expr, err := b.Build()
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return types.TransactWriteItem{Update: &types.Update{
		TableName:                 s.table,
		Key:                       itemKey(it),
		UpdateExpression:          expr.Update(),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	}}, nil
}

// writeOne performs one transaction item as a single write.
func (s *Store) writeOne(ctx context.Context, w types.TransactWriteItem) error {
	var err error
	switch {
	case w.Put != nil:
		_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: w.Put.TableName, Item: w.Put.Item,
			ConditionExpression:       w.Put.ConditionExpression,
			ExpressionAttributeNames:  w.Put.ExpressionAttributeNames,
			ExpressionAttributeValues: w.Put.ExpressionAttributeValues,
		})
	case w.Update != nil:
		_, err = s.db.UpdateItem(ctx, updateInput(w.Update))
	case w.Delete != nil:
		_, err = s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName: w.Delete.TableName, Key: w.Delete.Key,
			ConditionExpression:       w.Delete.ConditionExpression,
			ExpressionAttributeNames:  w.Delete.ExpressionAttributeNames,
			ExpressionAttributeValues: w.Delete.ExpressionAttributeValues,
		})
	default:
		err = fmt.Errorf("empty write")
	}
	return err
}

// updateInput is the single UpdateItem of a transaction's update.
func updateInput(u *types.Update) *dynamodb.UpdateItemInput {
	return &dynamodb.UpdateItemInput{
		TableName:                 u.TableName,
		Key:                       u.Key,
		UpdateExpression:          u.UpdateExpression,
		ConditionExpression:       u.ConditionExpression,
		ExpressionAttributeNames:  u.ExpressionAttributeNames,
		ExpressionAttributeValues: u.ExpressionAttributeValues,
	}
}
