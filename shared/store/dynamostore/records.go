package dynamostore

import (
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store/layout"
)

// The records below are the items of the table as attributevalue marshals
// them. Times are layout.Time strings; a zero time is an absent attribute,
// which is what the conditions on LeaseUntil, ClaimUntil and SentAt rely on.

// connRecord is a connection item (CONN#…).
type connRecord struct {
	layout.Item
	DuePK string `dynamodbav:",omitempty"`
	DueSK string `dynamodbav:",omitempty"`

	Account       string
	Vendor        string
	Level         connection.Level
	UserID        string `dynamodbav:",omitempty"`
	ID            string `dynamodbav:",omitempty"`
	Instance      string `dynamodbav:",omitempty"`
	SiteID        string `dynamodbav:",omitempty"`
	ConnectedUser connection.Identity
	ConnectedBy   connection.Person
	SecretName    string `dynamodbav:",omitempty"`
	SecretVersion string `dynamodbav:",omitempty"`
	Generation    int
	GrantedScope  string `dynamodbav:",omitempty"`

	GrantedAt             string `dynamodbav:",omitempty"`
	AccessTokenExpiresAt  string `dynamodbav:",omitempty"`
	RefreshTokenExpiresAt string `dynamodbav:",omitempty"`
	AbsoluteExpiresAt     string `dynamodbav:",omitempty"`
	LastRefreshedAt       string `dynamodbav:",omitempty"`

	Expired          bool
	ExpiredAt        string `dynamodbav:",omitempty"`
	ExpiredReason    string `dynamodbav:",omitempty"`
	VendorErrorSince string `dynamodbav:",omitempty"`

	NextCheckAt string `dynamodbav:",omitempty"`
	LeaseOwner  string `dynamodbav:",omitempty"`
	LeaseUntil  string `dynamodbav:",omitempty"`

	Version   int64
	CreatedAt string `dynamodbav:",omitempty"`
	UpdatedAt string `dynamodbav:",omitempty"`
}

// newConnRecord is the item of c stored at the given version, with its
// expiry-index keys when it has a next check.
func newConnRecord(c connection.Connection, version int64) (connRecord, error) {
	it, err := layout.ConnItem(c.Key)
	if err != nil {
		return connRecord{}, err
	}
	r := connRecord{
		Item:    it,
		Account: c.Account, Vendor: c.Vendor, Level: c.Level, UserID: c.UserID,
		ID: c.ID, Instance: c.Instance, SiteID: c.SiteID,
		ConnectedUser: c.ConnectedUser, ConnectedBy: c.ConnectedBy,
		SecretName: c.SecretName, SecretVersion: c.SecretVersion, Generation: c.Generation,
		GrantedScope:          c.GrantedScope,
		GrantedAt:             layout.Time(c.GrantedAt),
		AccessTokenExpiresAt:  layout.Time(c.AccessTokenExpiresAt),
		RefreshTokenExpiresAt: layout.Time(c.RefreshTokenExpiresAt),
		AbsoluteExpiresAt:     layout.Time(c.AbsoluteExpiresAt),
		LastRefreshedAt:       layout.Time(c.LastRefreshedAt),
		Expired:               c.Expired,
		ExpiredAt:             layout.Time(c.ExpiredAt),
		ExpiredReason:         c.ExpiredReason,
		VendorErrorSince:      layout.Time(c.VendorErrorSince),
		NextCheckAt:           layout.Time(c.NextCheckAt),
		LeaseOwner:            c.LeaseOwner,
		LeaseUntil:            layout.Time(c.LeaseUntil),
		Version:               version,
		CreatedAt:             layout.Time(c.CreatedAt),
		UpdatedAt:             layout.Time(c.UpdatedAt),
	}
	r.DuePK, r.DueSK, _ = layout.Due(c, it)
	return r, nil
}

func (r connRecord) conn() (connection.Connection, error) {
	var p timeParser
	c := connection.Connection{
		Key: connection.Key{Account: r.Account, Vendor: r.Vendor, Level: r.Level, UserID: r.UserID},
		ID:  r.ID, Instance: r.Instance, SiteID: r.SiteID,
		ConnectedUser: r.ConnectedUser, ConnectedBy: r.ConnectedBy,
		SecretName: r.SecretName, SecretVersion: r.SecretVersion, Generation: r.Generation,
		GrantedScope:          r.GrantedScope,
		GrantedAt:             p.parse(r.GrantedAt),
		AccessTokenExpiresAt:  p.parse(r.AccessTokenExpiresAt),
		RefreshTokenExpiresAt: p.parse(r.RefreshTokenExpiresAt),
		AbsoluteExpiresAt:     p.parse(r.AbsoluteExpiresAt),
		LastRefreshedAt:       p.parse(r.LastRefreshedAt),
		Expired:               r.Expired,
		ExpiredAt:             p.parse(r.ExpiredAt),
		ExpiredReason:         r.ExpiredReason,
		VendorErrorSince:      p.parse(r.VendorErrorSince),
		NextCheckAt:           p.parse(r.NextCheckAt),
		LeaseOwner:            r.LeaseOwner,
		LeaseUntil:            p.parse(r.LeaseUntil),
		Version:               r.Version,
		CreatedAt:             p.parse(r.CreatedAt),
		UpdatedAt:             p.parse(r.UpdatedAt),
	}
	return c, p.err
}

// settingsRecord is a settings item (SETTINGS#<vendor>).
type settingsRecord struct {
	layout.Item
	Account          string
	Vendor           string
	InstanceURL      string `dynamodbav:",omitempty"`
	ClientID         string `dynamodbav:",omitempty"`
	ClientSecretName string `dynamodbav:",omitempty"`
	// ClientSecretVersion: settings written before it was stored have
	// none, and read the secret's current version.
	ClientSecretVersion      string `dynamodbav:",omitempty"`
	RefreshTokenLifespanDays int
	SiteURL                  string `dynamodbav:",omitempty"`
	Version                  int64
	UpdatedAt                string `dynamodbav:",omitempty"`
	UpdatedBy                string `dynamodbav:",omitempty"`
}

func newSettingsRecord(s connection.Settings, version int64) settingsRecord {
	return settingsRecord{
		Item:    layout.SettingsItem(s.Account, s.Vendor),
		Account: s.Account, Vendor: s.Vendor,
		InstanceURL: s.InstanceURL, ClientID: s.ClientID, ClientSecretName: s.ClientSecretName, ClientSecretVersion: s.ClientSecretVersion,
		RefreshTokenLifespanDays: s.RefreshTokenLifespanDays, SiteURL: s.SiteURL,
		Version: version, UpdatedAt: layout.Time(s.UpdatedAt), UpdatedBy: s.UpdatedBy,
	}
}

func (r settingsRecord) settings() (connection.Settings, error) {
	var p timeParser
	s := connection.Settings{
		Account: r.Account, Vendor: r.Vendor,
		InstanceURL: r.InstanceURL, ClientID: r.ClientID, ClientSecretName: r.ClientSecretName, ClientSecretVersion: r.ClientSecretVersion,
		RefreshTokenLifespanDays: r.RefreshTokenLifespanDays, SiteURL: r.SiteURL,
		Version: r.Version, UpdatedAt: p.parse(r.UpdatedAt), UpdatedBy: r.UpdatedBy,
	}
	return s, p.err
}

// countsRecord is a counters item (COUNTS#<vendor>), written only by ADD.
type countsRecord struct {
	layout.Item
	Total     int
	Connected int
}

// noticeRecord is a notice item (NOTICE#<userId>#<id>).
type noticeRecord struct {
	layout.Item
	Account    string
	UserID     string
	ID         string
	Vendor     string
	Level      connection.Level
	Kind       connection.NoticeKind
	Message    string `dynamodbav:",omitempty"`
	Email      string `dynamodbav:",omitempty"`
	Connection connection.Key
	Generation int
	CreatedAt  string `dynamodbav:",omitempty"`
	Dismissed  bool
	SentAt     string `dynamodbav:",omitempty"`
	ClaimOwner string `dynamodbav:",omitempty"`
	ClaimUntil string `dynamodbav:",omitempty"`
}

func newNoticeRecord(n connection.Notice) noticeRecord {
	return noticeRecord{
		Item:    layout.NoticeItem(n.Account, n.UserID, n.ID),
		Account: n.Account, UserID: n.UserID, ID: n.ID,
		Vendor: n.Vendor, Level: n.Level, Kind: n.Kind, Message: n.Message, Email: n.Email,
		Connection: n.Connection, Generation: n.Generation,
		CreatedAt: layout.Time(n.CreatedAt), Dismissed: n.Dismissed, SentAt: layout.Time(n.SentAt),
		ClaimOwner: n.ClaimOwner, ClaimUntil: layout.Time(n.ClaimUntil),
	}
}

func (r noticeRecord) notice() (connection.Notice, error) {
	var p timeParser
	n := connection.Notice{
		Account: r.Account, UserID: r.UserID, ID: r.ID,
		Vendor: r.Vendor, Level: r.Level, Kind: r.Kind, Message: r.Message, Email: r.Email,
		Connection: r.Connection, Generation: r.Generation,
		CreatedAt: p.parse(r.CreatedAt), Dismissed: r.Dismissed, SentAt: p.parse(r.SentAt),
		ClaimOwner: r.ClaimOwner, ClaimUntil: p.parse(r.ClaimUntil),
	}
	return n, p.err
}

// stateRecord is an OAuth state item (STATE#<nonce>), which DynamoDB
// deletes some time after TTL (epoch seconds).
type stateRecord struct {
	layout.Item
	Nonce     string
	Account   string
	UserID    string `dynamodbav:",omitempty"`
	Email     string `dynamodbav:",omitempty"`
	Name      string `dynamodbav:",omitempty"`
	Vendor    string
	Flow      connection.Level
	Action    connection.Action
	Verifier  string `dynamodbav:",omitempty"`
	Instance  string `dynamodbav:",omitempty"`
	CreatedAt string `dynamodbav:",omitempty"`
	ExpiresAt string `dynamodbav:",omitempty"`
	TTL       int64  `dynamodbav:",omitempty"`
}

func newStateRecord(a connection.AuthState) stateRecord {
	r := stateRecord{
		Item:  layout.StateItem(a.Nonce),
		Nonce: a.Nonce, Account: a.Account, UserID: a.UserID, Email: a.Email, Name: a.Name,
		Vendor: a.Vendor, Flow: a.Flow, Action: a.Action, Verifier: a.Verifier, Instance: a.Instance,
		CreatedAt: layout.Time(a.CreatedAt), ExpiresAt: layout.Time(a.ExpiresAt),
	}
	if !a.ExpiresAt.IsZero() {
		r.TTL = a.ExpiresAt.Unix()
	}
	return r
}

func (r stateRecord) state() (connection.AuthState, error) {
	var p timeParser
	a := connection.AuthState{
		Nonce: r.Nonce, Account: r.Account, UserID: r.UserID, Email: r.Email, Name: r.Name,
		Vendor: r.Vendor, Flow: r.Flow, Action: r.Action, Verifier: r.Verifier, Instance: r.Instance,
		CreatedAt: p.parse(r.CreatedAt), ExpiresAt: p.parse(r.ExpiresAt),
	}
	return a, p.err
}

// timeParser parses stored times, keeping the first error.
type timeParser struct{ err error }

func (p *timeParser) parse(s string) time.Time {
	t, err := layout.ParseTime(s)
	if err != nil && p.err == nil {
		p.err = err
	}
	return t
}

// decode unmarshals an item into a record R and converts that with to
// (a record's method such as connRecord.conn); errors name what was
// decoded.
func decode[R, T any](item map[string]types.AttributeValue, what string, to func(R) (T, error)) (T, error) {
	var r R
	if err := attributevalue.UnmarshalMap(item, &r); err != nil {
		var zero T
		return zero, fmt.Errorf("dynamostore: decode %s: %w", what, err)
	}
	v, err := to(r)
	if err != nil {
		return v, fmt.Errorf("dynamostore: decode %s: %w", what, err)
	}
	return v, nil
}
