package secretsvault

// Cases moto cannot produce: a secret deleted or created under a Put, a
// service error that quotes the value, and the token discipline and the
// round trips of Put.

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/workplace/connections/shared/vault"
)

// script is a Client whose answers the test chooses; it records the calls.
type script struct {
	calls   []string
	tokens  []string
	put     func(n int) error
	restore func() error
	create  func() error
	get     func() error
	del     func() error
	nPut    int
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
	if s.restore != nil {
		return nil, s.restore()
	}
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

var markedForDeletion = &types.InvalidRequestException{Message: aws.String(
	"You can't perform this operation on the secret because it was marked for deletion.")}

var notFound = &types.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret.")}

// TestPutRoundTrips: each state of the secret costs Put the calls the
// typed errors make necessary, with one token for all of them.
func TestPutRoundTrips(t *testing.T) {
	scheduledName := &types.InvalidRequestException{Message: aws.String(
		"You can't create this secret because a secret with this name is already scheduled for deletion.")}
	exists := &types.ResourceExistsException{Message: aws.String("already exists")}
	for _, c := range []struct {
		name    string
		s       *script
		want    string
		wantErr bool
	}{
		{"an existing secret: one PutSecretValue, nothing asked first", &script{}, "put", false},
		{"a missing secret", &script{put: func(int) error { return notFound }}, "put,create", false},
		{"a secret scheduled for deletion", &script{put: func(n int) error {
			if n == 1 {
				return markedForDeletion
			}
			return nil
		}}, "put,restore,put", false},
		{"created by someone else meanwhile", &script{
			put: func(n int) error {
				if n == 1 {
					return notFound
				}
				return nil
			},
			create: func() error { return exists },
		}, "put,create,put", false},
		{"a name scheduled for deletion meanwhile", &script{
			put: func(n int) error {
				if n == 1 {
					return notFound
				}
				return nil
			},
			create: func() error { return scheduledName },
		}, "put,create,restore,put", false},
		{"deleted for good while being restored", &script{
			put: func(n int) error {
				if n == 1 {
					return markedForDeletion
				}
				return notFound
			},
			restore: func() error { return notFound },
		}, "put,restore,put,create", false},
		{"a state that never settles", &script{put: func(int) error { return markedForDeletion }},
			"put,restore,put,restore,put,restore,put", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			id, err := New(c.s).Put(context.Background(), "a/b", []byte(`{"n":1}`))
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error %v", err, c.wantErr)
			}
			if got := strings.Join(c.s.calls, ","); got != c.want {
				t.Errorf("calls = %s, want %s", got, c.want)
			}
			for _, tok := range c.s.tokens {
				if tok != c.s.tokens[0] {
					t.Errorf("tokens %v: want one token, reused", c.s.tokens)
				}
			}
			if c.wantErr {
				return
			}
			if id != c.s.tokens[0] {
				t.Errorf("version %q, want the token %q", id, c.s.tokens[0])
			}
			if len(id) < 32 || len(id) > 64 {
				t.Errorf("token %q: Secrets Manager wants 32 to 64 characters", id)
			}
		})
	}
}

func TestFreshTokenPerPut(t *testing.T) {
	s := &script{}
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
	s := &script{put: func(int) error { return echo }}
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
	s = &script{put: func(int) error { return errors.New("boom") }}
	if _, err := New(s).Put(context.Background(), "a/b", []byte(secret)); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("err = %v, want it to wrap boom", err)
	}
}

func TestGetAndDeleteMapping(t *testing.T) {
	ctx := context.Background()
	for _, e := range []error{
		notFound,
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
