package config_test

import (
	"log/slog"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/workplace/connections/shared/config"
	"github.com/workplace/connections/shared/vendors"
)

// deploymentSecrets are the secret names of every deployment app the
// registry uses, by the naming convention: <prefix>/deployment/<app>/client.
func deploymentSecrets(prefix string) map[string]string {
	out := map[string]string{}
	for _, app := range vendors.DeploymentApps() {
		out[app] = prefix + "/deployment/" + app + "/client"
	}
	return out
}

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestFromEnvDefaults(t *testing.T) {
	c, err := config.FromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := config.Config{
		TableName:                 "connections",
		SecretPrefix:              "connections",
		Claims:                    config.Claims{UserID: "sub", Email: "email", Name: "name", Account: "account_id", Role: "role"},
		AppManagerRole:            "appManager",
		RedirectURL:               "http://127.0.0.1:3000/console/callback",
		FrontendURL:               "http://127.0.0.1:3000/console",
		UserReconnectPath:         "/profile/external-apps",
		AppReconnectPath:          "/manage/apps/integrations",
		WarningWindow:             10 * 24 * time.Hour,
		IdleCheck:                 30 * 24 * time.Hour,
		MailFrom:                  "no-reply@example.com",
		AtlassianClientSecretName: "connections/deployment/confluence/client",
		DeploymentSecrets:         deploymentSecrets("connections"),
		VendorBaseURLs:            map[string]string{},
		EventBusName:              "default",
		MetricsNamespace:          "IntegrationConnections",
		UserTokenStore:            "secrets",
		UserTokenKey:              "alias/connections-user-tokens",
		SecretRecoveryDays:        7,
		AuditRetention:            400 * 24 * time.Hour,
		OutageGrace:               72 * time.Hour,
		ScanBudget:                60 * time.Second,
		ScanConcurrency:           64,
		ScanSweepPages:            1000,
		RequestTimeout:            15 * time.Second,
		SecretCacheTTL:            5 * time.Minute,
		LogLevel:                  slog.LevelInfo,
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("defaults:\n got %+v\nwant %+v", c, want)
	}
}

func TestFromEnvValues(t *testing.T) {
	c, err := config.FromEnv(env(map[string]string{
		"TABLE_NAME":             " prod-connections ",
		"SECRET_PREFIX":          "prod/conn//",
		"CLAIM_USER_ID":          "uid",
		"CLAIM_EMAIL":            "mail",
		"CLAIM_NAME":             "display_name",
		"CLAIM_ACCOUNT_ID":       "custom:tenant",
		"CLAIM_ROLE":             "custom:role",
		"APP_MANAGER_ROLE":       "admin",
		"OAUTH_REDIRECT_URL":     "https://app.acme.example/integrations/oauth2/callback",
		"FRONTEND_URL":           "https://app.acme.example/",
		"USER_RECONNECT_PATH":    "/me/apps",
		"APP_RECONNECT_PATH":     "/admin/apps",
		"WARNING_DAYS":           "14",
		"IDLE_CHECK_DAYS":        "7",
		"MAIL_FROM":              "alerts@acme.example",
		"ALLOWED_INSTANCE_HOSTS": " 127.0.0.1:3000, ,*.sandbox.test,",
		"PRIVATE_VENDOR_HOSTS":   " 127.0.0.1:3000,, *.sandbox.test ",
		"VENDOR_BASE_URLS":       "servicenow.instance=http://127.0.0.1:3000/_sandbox/servicenow/{name}, confluence.auth = http://127.0.0.1:3000/_sandbox/confluence?a=b",
		"SECRET_RECOVERY_DAYS":   "30",
		"AUDIT_RETENTION_DAYS":   "90",
		"EVENT_BUS_NAME":         " platform-events ",
		"METRICS_NAMESPACE":      "Connections/prod",
		"OUTAGE_GRACE":           "24h",
		"SCAN_BUDGET":            "5m",
		"SCAN_CONCURRENCY":       "8",
		"SCAN_SWEEP_PAGES":       "0",
		"REQUEST_TIMEOUT":        "12s",
		"SECRET_CACHE_TTL":       "90s",
		"LOG_LEVEL":              "debug",
	}))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"TableName", c.TableName, "prod-connections"},
		{"SecretPrefix", c.SecretPrefix, "prod/conn"},
		{"AtlassianClientSecretName", c.AtlassianClientSecretName, "prod/conn/deployment/confluence/client"},
		{"Claims", c.Claims, config.Claims{UserID: "uid", Email: "mail", Name: "display_name", Account: "custom:tenant", Role: "custom:role"}},
		{"AppManagerRole", c.AppManagerRole, "admin"},
		{"RedirectURL", c.RedirectURL, "https://app.acme.example/integrations/oauth2/callback"},
		{"FrontendURL", c.FrontendURL, "https://app.acme.example"},
		{"UserReconnectPath", c.UserReconnectPath, "/me/apps"},
		{"AppReconnectPath", c.AppReconnectPath, "/admin/apps"},
		{"WarningWindow", c.WarningWindow, 14 * 24 * time.Hour},
		{"IdleCheck", c.IdleCheck, 7 * 24 * time.Hour},
		{"SecretCacheTTL", c.SecretCacheTTL, 90 * time.Second},
		{"DeploymentSecrets", c.DeploymentSecrets, deploymentSecrets("prod/conn")},
		{"MailFrom", c.MailFrom, "alerts@acme.example"},
		{"AllowedInstanceHosts", c.AllowedInstanceHosts, []string{"127.0.0.1:3000", "*.sandbox.test"}},
		{"PrivateVendorHosts", c.PrivateVendorHosts, []string{"127.0.0.1:3000", "*.sandbox.test"}},
		{"VendorBaseURLs", c.VendorBaseURLs, map[string]string{
			"servicenow.instance": "http://127.0.0.1:3000/_sandbox/servicenow/{name}",
			"confluence.auth":     "http://127.0.0.1:3000/_sandbox/confluence?a=b",
		}},
		{"SecretRecoveryDays", c.SecretRecoveryDays, 30},
		{"AuditRetention", c.AuditRetention, 90 * 24 * time.Hour},
		{"EventBusName", c.EventBusName, "platform-events"},
		{"MetricsNamespace", c.MetricsNamespace, "Connections/prod"},
		{"OutageGrace", c.OutageGrace, 24 * time.Hour},
		{"ScanBudget", c.ScanBudget, 5 * time.Minute},
		{"ScanConcurrency", c.ScanConcurrency, 8},
		{"ScanSweepPages", c.ScanSweepPages, 0},
		{"RequestTimeout", c.RequestTimeout, 12 * time.Second},
		{"LogLevel", c.LogLevel, slog.LevelDebug},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %#v, want %#v", ch.name, ch.got, ch.want)
		}
	}
}

func TestFromEnvExplicitAtlassianSecret(t *testing.T) {
	c, err := config.FromEnv(env(map[string]string{"SECRET_PREFIX": "p", "ATLASSIAN_CLIENT_SECRET_NAME": "shared/atlassian"}))
	if err != nil || c.AtlassianClientSecretName != "shared/atlassian" {
		t.Fatalf("AtlassianClientSecretName = %q, %v", c.AtlassianClientSecretName, err)
	}
	if got := c.DeploymentSecrets["confluence"]; got != "shared/atlassian" {
		t.Fatalf("the Atlassian app's secret = %q, want ATLASSIAN_CLIENT_SECRET_NAME's", got)
	}
}

func TestFromEnvAccepted(t *testing.T) {
	for _, tc := range []struct {
		key, value string
		check      func(config.Config) bool
	}{
		{"WARNING_DAYS", "0", func(c config.Config) bool { return c.WarningWindow == 0 }},
		{"SECRET_RECOVERY_DAYS", "7", func(c config.Config) bool { return c.SecretRecoveryDays == 7 }},
		{"LOG_LEVEL", "WARN", func(c config.Config) bool { return c.LogLevel == slog.LevelWarn }},
		{"USER_TOKEN_STORE", "sealed", func(c config.Config) bool { return c.UserTokenStore == "sealed" }},
		{"USER_TOKEN_KEY", "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", func(c config.Config) bool {
			return c.UserTokenKey == "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
		}},
		{"USER_TOKEN_KEY", "alias/prod/tokens", func(c config.Config) bool { return c.UserTokenKey == "alias/prod/tokens" }},
		{"EVENT_BUS_NAME", "arn:aws:events:eu-west-1:123456789012:event-bus/platform", func(c config.Config) bool {
			return c.EventBusName == "arn:aws:events:eu-west-1:123456789012:event-bus/platform"
		}},
		{"LOG_LEVEL", "error", func(c config.Config) bool { return c.LogLevel == slog.LevelError }},
		{"LOG_LEVEL", "   ", func(c config.Config) bool { return c.LogLevel == slog.LevelInfo }},
		{"OAUTH_REDIRECT_URL", "http://127.0.0.1:4000/console/callback", func(c config.Config) bool {
			return c.RedirectURL == "http://127.0.0.1:4000/console/callback"
		}},
		{"VENDOR_BASE_URLS", "", func(c config.Config) bool { return len(c.VendorBaseURLs) == 0 }},
		{"ALLOWED_INSTANCE_HOSTS", " , ", func(c config.Config) bool { return len(c.AllowedInstanceHosts) == 0 }},
		{"PRIVATE_VENDOR_HOSTS", " , ", func(c config.Config) bool { return len(c.PrivateVendorHosts) == 0 }},
		// Base URL overrides on hosts not marked private must be https.
		{"VENDOR_BASE_URLS", "servicenow.instance=https://sn.example.com/{name}", func(c config.Config) bool {
			return c.VendorBaseURLs["servicenow.instance"] == "https://sn.example.com/{name}"
		}},
	} {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			c, err := config.FromEnv(env(map[string]string{tc.key: tc.value}))
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Fatalf("%s=%q read as %+v", tc.key, tc.value, c)
			}
		})
	}
}

func TestFromEnvRejects(t *testing.T) {
	base := map[string]string{}
	for _, tc := range []struct {
		key, value string
	}{
		{"WARNING_DAYS", "ten"},
		{"WARNING_DAYS", "-1"},
		{"WARNING_DAYS", "1.5"},
		{"IDLE_CHECK_DAYS", "0"},
		{"IDLE_CHECK_DAYS", "366"},
		{"IDLE_CHECK_DAYS", "month"},
		{"SECRET_RECOVERY_DAYS", "6"},
		{"SECRET_RECOVERY_DAYS", "31"},
		{"SECRET_RECOVERY_DAYS", "0"},
		{"SECRET_RECOVERY_DAYS", "week"},
		{"AUDIT_RETENTION_DAYS", "0"},
		{"AUDIT_RETENTION_DAYS", "3651"},
		{"AUDIT_RETENTION_DAYS", "1y"},
		{"EVENT_BUS_NAME", "two words"},
		{"METRICS_NAMESPACE", "AWS/Lambda"},
		{"METRICS_NAMESPACE", "Connections*"},
		{"EVENT_BUS_NAME", "arn:aws:sqs:eu-west-1:123456789012:queue"},
		{"OUTAGE_GRACE", "3 days"},
		{"USER_TOKEN_STORE", "dynamodb"},
		{"USER_TOKEN_STORE", "Sealed"},
		{"USER_TOKEN_KEY", "my key"},
		{"USER_TOKEN_KEY", "arn:aws:sqs:eu-west-1:123456789012:queue"},
		{"SCAN_BUDGET", "60"},
		{"SCAN_CONCURRENCY", "0"},
		{"SCAN_CONCURRENCY", "257"},
		{"SCAN_CONCURRENCY", "many"},
		{"SCAN_SWEEP_PAGES", "-1"},
		{"SCAN_SWEEP_PAGES", "10001"},
		{"SCAN_SWEEP_PAGES", "some"},
		{"REQUEST_TIMEOUT", "20"},
		{"REQUEST_TIMEOUT", "0s"},
		{"REQUEST_TIMEOUT", "-5s"},
		{"SECRET_CACHE_TTL", "300"},
		{"SECRET_CACHE_TTL", "-1s"},
		{"SECRET_CACHE_TTL", "2h"},
		// The service's own kinds of secret are not the deployment's app.
		{"ATLASSIAN_CLIENT_SECRET_NAME", "connections/tokens/a1/confluence/app"},
		{"ATLASSIAN_CLIENT_SECRET_NAME", "connections/clients/a1/confluence"},
		{"LOG_LEVEL", "loud"},
		{"VENDOR_BASE_URLS", "servicenow=http://x"},
		{"VENDOR_BASE_URLS", "servicenow.instance"},
		{"VENDOR_BASE_URLS", "servicenow.instance="},
		{"VENDOR_BASE_URLS", "servicenow.instance=http://x,,confluence.auth=http://y"},
		// Plain http only for hosts marked private (PRIVATE_VENDOR_HOSTS).
		{"VENDOR_BASE_URLS", "servicenow.instance=http://127.0.0.1:3000/_sandbox/servicenow/{name}"},
		{"VENDOR_BASE_URLS", "confluence.auth=http://auth.example.com"},
		{"VENDOR_BASE_URLS", "confluence.auth=ftp://auth.example.com"},
		{"VENDOR_BASE_URLS", "confluence.auth=/relative"},
		{"VENDOR_BASE_URLS", "confluence.auth=https://"},
		{"VENDOR_BASE_URLS", "confluence.auth=https://user@auth.example.com"},
		{"OAUTH_REDIRECT_URL", "://no-scheme"},
		{"OAUTH_REDIRECT_URL", "/console/callback"},
		{"OAUTH_REDIRECT_URL", "console/callback"},
		{"OAUTH_REDIRECT_URL", "javascript:alert(1)"},
		{"OAUTH_REDIRECT_URL", "https:///callback"},
	} {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			e := maps.Clone(base)
			e[tc.key] = tc.value
			_, err := config.FromEnv(env(e))
			if err == nil {
				t.Fatalf("%s=%q accepted", tc.key, tc.value)
			}
			if !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("error %q does not name %s", err, tc.key)
			}
		})
	}
}
