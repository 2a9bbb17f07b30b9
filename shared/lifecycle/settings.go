package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/problem"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/vault"
	"github.com/workplace/connections/shared/vendors"
)

// SettingsRequest is the body of PUT …/{vendor}/settings. Which fields a
// vendor takes depends on how its OAuth client is obtained.
type SettingsRequest struct {
	InstanceURL              *string `json:"instanceUrl,omitempty"`
	ClientID                 *string `json:"clientId,omitempty"`
	ClientSecret             *string `json:"clientSecret,omitempty"`
	RefreshTokenLifespanDays *int    `json:"refreshTokenLifespanDays,omitempty"`
	SiteURL                  *string `json:"siteUrl,omitempty"`
}

// SettingsView is what the settings route answers: never the secret.
type SettingsView struct {
	Vendor                   string    `json:"vendor"`
	InstanceURL              string    `json:"instanceUrl,omitempty"`
	ClientID                 string    `json:"clientId,omitempty"`
	ClientSecretSet          bool      `json:"clientSecretSet"`
	RefreshTokenLifespanDays int       `json:"refreshTokenLifespanDays,omitempty"`
	SiteURL                  string    `json:"siteUrl,omitempty"`
	UpdatedAt                time.Time `json:"updatedAt"`
}

func badSettings(format string, args ...any) error {
	return problem.New(http.StatusBadRequest, "invalid_body", format, args...)
}

// SaveSettings validates and stores an account's settings of a vendor. The
// client secret goes to the vault first; the settings then point at its
// version, so a failure in between changes nothing that is in use.
func (s *Service) SaveSettings(ctx context.Context, who Caller, vendorID string, r SettingsRequest) (SettingsView, error) {
	v, err := lookupVendor(vendorID)
	if err != nil {
		return SettingsView{}, err
	}
	if !who.AppManager {
		return SettingsView{}, problem.New(http.StatusForbidden, "forbidden", "only app managers can change the settings of %s", v.Name)
	}
	snaps, err := s.Store.Snapshot(ctx, who.Account, "", []string{v.ID})
	if err != nil {
		return SettingsView{}, err
	}
	snap := snaps[v.ID]
	next := connection.Settings{Account: who.Account, Vendor: v.ID}
	if snap.Settings != nil {
		next = *snap.Settings
	}
	var secret string
	if v.Credentials == vendors.PerAccount {
		if r.SiteURL != nil {
			return SettingsView{}, badSettings("%s takes instanceUrl, clientId, clientSecret and refreshTokenLifespanDays", v.Name)
		}
		if r.InstanceURL == nil || r.ClientID == nil {
			return SettingsView{}, badSettings("instanceUrl and clientId are required")
		}
		inst, err := v.CheckInstance(*r.InstanceURL, s.AllowedInstanceHosts, s.PrivateVendorHosts)
		if err != nil {
			return SettingsView{}, problem.New(http.StatusBadRequest, "invalid_instance", "%s", err.Error())
		}
		if snap.App != nil && inst != snap.App.Instance {
			return SettingsView{}, problem.New(http.StatusConflict, "instance_locked",
				"%s is connected to %s; disconnect it before moving to another instance", v.Name, snap.App.Instance)
		}
		next.InstanceURL = inst
		if id := *r.ClientID; id == "" || len(id) > 256 {
			return SettingsView{}, badSettings("clientId must be 1 to 256 characters")
		}
		if r.ClientSecret != nil {
			if *r.ClientSecret == "" || len(*r.ClientSecret) > 1024 {
				return SettingsView{}, badSettings("clientSecret must be 1 to 1024 characters")
			}
			secret = *r.ClientSecret
		} else if next.ClientSecretName == "" || next.ClientID != *r.ClientID {
			return SettingsView{}, badSettings("clientSecret is required with a new clientId")
		}
		if snap.App != nil && next.ClientID != "" && *r.ClientID != next.ClientID {
			// The connection's tokens belong to the old client: refreshing
			// them with another would fail. Rotating the secret is fine.
			return SettingsView{}, problem.New(http.StatusConflict, "instance_locked",
				"%s is connected with OAuth client %s; disconnect it before changing the client", v.Name, next.ClientID)
		}
		next.ClientID = *r.ClientID
		next.RefreshTokenLifespanDays = int(v.Refresh.Lifespan / (24 * time.Hour))
		if r.RefreshTokenLifespanDays != nil {
			if d := *r.RefreshTokenLifespanDays; d < 1 || d > 3650 {
				return SettingsView{}, badSettings("refreshTokenLifespanDays must be 1 to 3650")
			}
			next.RefreshTokenLifespanDays = *r.RefreshTokenLifespanDays
		}
	} else {
		if r.InstanceURL != nil || r.ClientID != nil || r.ClientSecret != nil || r.RefreshTokenLifespanDays != nil {
			return SettingsView{}, badSettings("%s uses this deployment's app; its only setting is siteUrl", v.Name)
		}
		next.SiteURL = ""
		if r.SiteURL != nil && *r.SiteURL != "" {
			site, err := checkSite(*r.SiteURL, s.AllowedInstanceHosts, s.PrivateVendorHosts)
			if err != nil {
				return SettingsView{}, problem.New(http.StatusBadRequest, "invalid_instance", "%s", err.Error())
			}
			next.SiteURL = site
		}
		if snap.App != nil && next.SiteURL != "" && next.SiteURL != snap.App.Instance {
			return SettingsView{}, problem.New(http.StatusConflict, "instance_locked",
				"%s is connected to %s; disconnect it before moving to another site", v.Name, snap.App.Instance)
		}
	}
	if secret != "" {
		name := vault.ClientSecretName(s.SecretPrefix, who.Account, v.ID)
		version, err := s.Vault.Put(ctx, name, []byte(secret))
		if err != nil {
			s.log(ctx).WarnContext(ctx, "client secret not stored; a secret version nothing uses may have been written", "secret", name, "error", err.Error())
			return SettingsView{}, fmt.Errorf("store client secret: %w", err)
		}
		next.ClientSecretName, next.ClientSecretVersion = name, version
	}
	next.UpdatedAt = s.now()
	next.UpdatedBy = who.UserID
	ops := []store.Op{store.PutSettings{Settings: next}}
	if details := settingsChanges(snap.Settings, next, secret != ""); details != nil {
		c := connection.Connection{Key: connection.AppKey(who.Account, v.ID)}
		if snap.App != nil {
			c.ID = snap.App.ID
		}
		ops = append(ops, store.AppendAudit{Entry: s.audit(c, connection.AuditSettingsChanged, who, next.UpdatedAt, details)})
	}
	err = s.Store.Apply(ctx, ops...)
	if errors.Is(err, store.ErrConflict) {
		// Our own write retried by the SDK after its answer was lost?
		if cur, gerr := s.Store.GetSettings(ctx, who.Account, v.ID); gerr == nil &&
			cur.Version == next.Version+1 && cur.UpdatedAt.Equal(next.UpdatedAt) && cur.UpdatedBy == next.UpdatedBy {
			err = nil
		}
	}
	if err != nil {
		if secret != "" {
			s.log(ctx).WarnContext(ctx, "settings not saved; the new client secret version may be unused",
				"secret", next.ClientSecretName, "version", next.ClientSecretVersion, "error", err.Error())
		}
		if errors.Is(err, store.ErrConflict) {
			return SettingsView{}, problem.New(http.StatusConflict, "conflict", "the settings changed meanwhile; try again")
		}
		return SettingsView{}, err
	}
	if mv, ok := s.Vault.(vault.Mover); ok && secret != "" {
		// The new secret went to its home store (USER_TOKEN_STORE); a copy
		// in the other one (written before a change of the mode) is no
		// longer pointed at.
		if err := mv.Forget(ctx, next.ClientSecretName); err != nil {
			s.log(ctx).WarnContext(ctx, "the client secret's copy in the other store not scheduled for deletion", "secret", next.ClientSecretName, "error", err.Error())
		}
	}
	s.log(ctx).InfoContext(ctx, "settings saved", "secretChanged", secret != "")
	return settingsView(next), nil
}

// settingsChanges are the audit details of a save: which fields changed
// ("changed", comma-separated) and the new value of each that is not a
// secret; nil when nothing changed. A new client secret is named, never
// shown.
func settingsChanges(old *connection.Settings, next connection.Settings, secretChanged bool) map[string]string {
	var prev connection.Settings
	if old != nil {
		prev = *old
	}
	d := map[string]string{}
	var changed []string
	field := func(name, was, is string) {
		if was != is {
			changed = append(changed, name)
			d[name] = is
		}
	}
	field("instanceUrl", prev.InstanceURL, next.InstanceURL)
	field("clientId", prev.ClientID, next.ClientID)
	if secretChanged {
		changed = append(changed, "clientSecret")
	}
	if prev.RefreshTokenLifespanDays != next.RefreshTokenLifespanDays {
		field("refreshTokenLifespanDays", strconv.Itoa(prev.RefreshTokenLifespanDays), strconv.Itoa(next.RefreshTokenLifespanDays))
	}
	field("siteUrl", prev.SiteURL, next.SiteURL)
	if len(changed) == 0 {
		return nil
	}
	d["changed"] = strings.Join(changed, ",")
	return d
}

func settingsView(s connection.Settings) SettingsView {
	return SettingsView{
		Vendor: s.Vendor, InstanceURL: s.InstanceURL, ClientID: s.ClientID,
		ClientSecretSet: s.ClientSecretName != "", RefreshTokenLifespanDays: s.RefreshTokenLifespanDays,
		SiteURL: s.SiteURL, UpdatedAt: s.UpdatedAt,
	}
}

// atlassianSites is the host pattern of Atlassian cloud sites.
var atlassianSites = vendors.Vendor{Name: "Atlassian", InstanceHosts: []string{"*.atlassian.net"}}

func checkSite(raw string, extra, private []string) (string, error) {
	site, err := atlassianSites.CheckInstance(raw, extra, private)
	if err != nil {
		return "", fmt.Errorf("siteUrl must look like https://<name>.atlassian.net")
	}
	return site, nil
}
