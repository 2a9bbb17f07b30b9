package connection

import (
	"regexp"
	"testing"
	"time"
)

// Audit ids are URL-safe, of one length and unique: they are also the
// events' eventId.
func TestNewAuditID(t *testing.T) {
	shape := regexp.MustCompile(`^[0-9A-V]{29}$`)
	seen := map[string]bool{}
	for range 10000 {
		id := NewAuditID()
		if !shape.MatchString(id) {
			t.Fatalf("id %q is not 29 characters of [0-9A-V]", id)
		}
		if seen[id] {
			t.Fatalf("id %q made twice", id)
		}
		seen[id] = true
	}
}

func TestNewAudit(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	c := Connection{Key: UserKey("a1", "servicenow", "u2"), ID: "c9"}
	e := NewAudit(c, AuditRemoved, UserActor("u2"), at, 0, map[string]string{"cascade": "true"})
	if e.Account != "a1" || e.Vendor != "servicenow" || e.Level != LevelUser || e.UserID != "u2" || e.ConnectionID != "c9" ||
		e.Action != AuditRemoved || e.Actor != (Actor{Type: ActorUser, ID: "u2"}) || e.Details["cascade"] != "true" || e.ID == "" {
		t.Fatalf("entry %+v", e)
	}
	if e.At.Location() != time.UTC || !e.At.Equal(at) || !e.ExpiresAt.Equal(at.Add(400*24*time.Hour)) {
		t.Fatalf("at %v, expires %v", e.At, e.ExpiresAt)
	}
	if e := NewAudit(c, AuditRemoved, UserActor("u2"), at, 30*24*time.Hour, nil); !e.ExpiresAt.Equal(at.Add(30 * 24 * time.Hour)) {
		t.Fatalf("expires %v with a retention of 30 days", e.ExpiresAt)
	}
}
