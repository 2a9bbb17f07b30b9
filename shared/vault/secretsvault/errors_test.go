package secretsvault

// Cases moto cannot produce: AWS refusing PutSecretValue on a secret
// scheduled for deletion (moto accepts it silently), a service error that
// quotes the value, and the token discipline of Put.

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/workplace/connections/shared/vault"
)

// script is a Client whose answers the test chooses; it records the calls.
type script struct {
	calls    []string
	tokens   []string
	describe func(n int) (*secretsmanager.DescribeSecretOutput, error)
	put      func(n int) error
	create   func() error
	get      func() error
	del      func() error
	nDesc    int
	nPut     int
}

func (s *script) CreateSecret(_ context.Context, in *secretsmanager.CreateSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error) {
	s.calls = append(s.calls, "create")
	s.tokens = append(s.tokens, *in.ClientRequestToken)
	if s.create != nil {
		if err := s.create(); err != nil {
			return nil, err
		}
	}
	return &secretsmanager.CreateSecretOutput{VersionId: in.ClientRequestToken}, nil
}

func (s *script) DescribeSecret(context.Context, *secretsmanager.DescribeSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	s.calls = append(s.calls, "describe")
	s.nDesc++
	return s.describe(s.nDesc)
}

func (s *script) PutSecretValue(_ context.Context, in *secretsmanager.PutSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	s.calls = append(s.calls, "put")
	s.tokens = append(s.tokens, *in.ClientRequestToken)
	s.nPut++
	if s.put != nil {
		if err := s.put(s.nPut); err != nil {
			return nil, err
		}
	}
	return &secretsmanager.PutSecretValueOutput{VersionId: in.ClientRequestToken}, nil
}

func (s *script) RestoreSecret(context.Context, *secretsmanager.RestoreSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.RestoreSecretOutput, error) {
	s.calls = append(s.calls, "restore")
	return &secretsmanager.RestoreSecretOutput{}, nil
}

func (s *script) GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	s.calls = append(s.calls, "get")
	return nil, s.get()
}

func (s *script) DeleteSecret(context.Context, *secretsmanager.DeleteSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error) {
	s.calls = append(s.calls, "delete")
	return &secretsmanager.DeleteSecretOutput{}, s.del()
}

func live(int) (*secretsmanager.DescribeSecretOutput, error) {
	return &secretsmanager.DescribeSecretOutput{Name: aws.String("n")}, nil
}

var markedForDeletion = &types.InvalidRequestException{Message: aws.String(
	"You can't perform this operation on the secret because it was marked for deletion.")}

func TestPutRestoresWhenDeletedUnderIt(t *testing.T) {
	// Describe sees a live secret, then someone deletes it: AWS refuses the
	// PutSecretValue; the next round restores and writes.
	s := &script{
		describe: func(n int) (*secretsmanager.DescribeSecretOutput, error) {
			if n == 1 {
				return live(n)
			}
			return &secretsmanager.DescribeSecretOutput{DeletedDate: aws.Time(time.Now())}, nil
		},
		put: func(n int) error {
			if n == 1 {
				return markedForDeletion
			}
			return nil
		},
	}
	id, err := New(s).Put(context.Background(), "a/b", []byte(`{"n":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(s.calls, ","), "describe,put,describe,restore,put"; got != want {
		t.Errorf("calls = %s, want %s", got, want)
	}
	if len(s.tokens) != 2 || s.tokens[0] != s.tokens[1] || s.tokens[0] != id {
		t.Errorf("tokens %v, version %q: want one token, reused, returned as the version", s.tokens, id)
	}
	if len(id) < 32 || len(id) > 64 {
		t.Errorf("token %q: Secrets Manager wants 32 to 64 characters", id)
	}
}

func TestCreateRefusedForScheduledName(t *testing.T) {
	// CreateSecret on a name scheduled for deletion (deleted between our
	// Describe and Create, or still listed as missing) is retried.
	s := &script{
		describe: func(n int) (*secretsmanager.DescribeSecretOutput, error) {
			if n == 1 {
				return nil, &types.ResourceNotFoundException{Message: aws.String("no")}
			}
			return &secretsmanager.DescribeSecretOutput{DeletedDate: aws.Time(time.Now())}, nil
		},
		create: func() error {
			return &types.InvalidRequestException{Message: aws.String(
				"You can't create this secret because a secret with this name is already scheduled for deletion.")}
		},
	}
	if _, err := New(s).Put(context.Background(), "a/b", []byte(`{"n":1}`)); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(s.calls, ","), "describe,create,describe,restore,put"; got != want {
		t.Errorf("calls = %s, want %s", got, want)
	}
}

func TestFreshTokenPerPut(t *testing.T) {
	s := &script{describe: live}
	v := New(s)
	a, _ := v.Put(context.Background(), "a/b", []byte(`{"n":1}`))
	b, _ := v.Put(context.Background(), "a/b", []byte(`{"n":1}`))
	if a == b || a == "" {
		t.Errorf("two Puts used tokens %q and %q", a, b)
	}
}

func TestErrorsNeverQuoteTheValue(t *testing.T) {
	secret := `{"access_token":"tok-SECRET-0123456789abcdef","refresh_token":"rt-SECRET-9876543210"}`
	echo := &types.InvalidParameterException{Message: aws.String(
		"bad value: " + secret[10:50])} // quotes a slice of it
	s := &script{describe: live, put: func(int) error { return echo }}
	_, err := New(s).Put(context.Background(), "a/b", []byte(secret))
	if err == nil {
		t.Fatal("Put succeeded")
	}
	if strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("error quotes the secret: %v", err)
	}
	if !strings.Contains(err.Error(), "InvalidParameterException") || !strings.Contains(err.Error(), "a/b") {
		t.Errorf("error lost the code or name: %v", err)
	}
	// An ordinary error keeps its chain.
	s = &script{describe: live, put: func(int) error { return errors.New("boom") }}
	if _, err := New(s).Put(context.Background(), "a/b", []byte(secret)); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("err = %v, want it to wrap boom", err)
	}
}

func TestGetAndDeleteMapping(t *testing.T) {
	ctx := context.Background()
	for _, e := range []error{
		&types.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret.")},
		markedForDeletion,
	} {
		s := &script{get: func() error { return e }, del: func() error { return e }}
		if _, err := New(s).Get(ctx, "a/b", ""); !errors.Is(err, vault.ErrNotFound) {
			t.Errorf("Get on %T = %v, want ErrNotFound", e, err)
		}
		if err := New(s).Delete(ctx, "a/b", 7); err != nil {
			t.Errorf("Delete on %T = %v, want nil", e, err)
		}
	}
	other := &types.InvalidRequestException{Message: aws.String("something else")}
	s := &script{get: func() error { return other }, del: func() error { return other }}
	if _, err := New(s).Get(ctx, "a/b", ""); err == nil || errors.Is(err, vault.ErrNotFound) {
		t.Errorf("Get on another InvalidRequestException = %v, want a plain error", err)
	}
	if err := New(s).Delete(ctx, "a/b", 7); err == nil {
		t.Error("Delete on another InvalidRequestException = nil, want an error")
	}
}
