// Package config reads the service's settings from the environment. Every
// variable is declared in template.yaml and listed in the README.
package config

import (
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/workplace/connections/shared/metrics"
	"github.com/workplace/connections/shared/safehttp"
	"github.com/workplace/connections/shared/vault"
	"github.com/workplace/connections/shared/vendors"
)

// Config is everything the functions and the local server read from the
// environment.
type Config struct {
	TableName    string // TABLE_NAME
	SecretPrefix string // SECRET_PREFIX

	Claims         Claims // CLAIM_*
	AppManagerRole string // APP_MANAGER_ROLE

	RedirectURL       string // OAUTH_REDIRECT_URL: the frontend page vendors send the browser back to
	FrontendURL       string // FRONTEND_URL
	UserReconnectPath string // USER_RECONNECT_PATH
	AppReconnectPath  string // APP_RECONNECT_PATH

	WarningWindow time.Duration // WARNING_DAYS
	// IdleCheck (IDLE_CHECK_DAYS) is how long the scan lets a grant that
	// never expires go unrefreshed before it refreshes it, so that a
	// revoked one is found.
	IdleCheck time.Duration
	MailFrom  string // MAIL_FROM

	AtlassianClientSecretName string // ATLASSIAN_CLIENT_SECRET_NAME
	// DeploymentSecrets name, by app id (vendors.Vendor.AppID), the secret
	// holding each deployment OAuth app's {client_id, client_secret}: one
	// per app the registry's vendors use, <prefix>/deployment/<app>/client
	// (vault.DeploymentSecretName), the Atlassian app's named by
	// ATLASSIAN_CLIENT_SECRET_NAME. Vendors that share an app (Jira and
	// Confluence) share its secret.
	DeploymentSecrets    map[string]string
	AllowedInstanceHosts []string          // ALLOWED_INSTANCE_HOSTS
	VendorBaseURLs       map[string]string // VENDOR_BASE_URLS
	// PrivateVendorHosts (PRIVATE_VENDOR_HOSTS) are the hosts, as
	// host[:port] or patterns (safehttp.MatchHost), that the deployment
	// explicitly runs on loopback or a private network: the local sandbox,
	// test servers. Only they may be called over plain http and at
	// non-public addresses; every other vendor host, configured or not, is
	// https and public. Marking a host allows nothing by itself: instance
	// hosts still come from the vendors' patterns and ALLOWED_INSTANCE_HOSTS.
	PrivateVendorHosts []string

	// EventBusName (EVENT_BUS_NAME) is the EventBridge event bus the
	// state-change events go to: a name or an event bus ARN ("default":
	// the account's default bus).
	EventBusName string

	// MetricsNamespace (METRICS_NAMESPACE) is the CloudWatch namespace of
	// the service's metrics (embedded in its log lines; shared/metrics).
	MetricsNamespace string
	// UserTokenStore (USER_TOKEN_STORE, DESIGN §11's name) is where every
	// account and connection secret is written — despite the name, not only
	// user-level tokens: the tokens of both levels and the accounts' OAuth
	// client secrets (vault.AccountSecretName). vault.StoreSecrets: one
	// Secrets Manager secret each; vault.StoreSealed: sealed under
	// UserTokenKey in the table. Only the deployment's own app credentials
	// (<prefix>/deployment/…) are always in Secrets Manager. Either way
	// secrets written under the other are still read, and the scan moves
	// them.
	UserTokenStore string
	// UserTokenKey (USER_TOKEN_KEY) is the KMS key (id, ARN or alias) that
	// issues the data keys of sealed tokens.
	UserTokenKey string

	SecretRecoveryDays int           // SECRET_RECOVERY_DAYS
	AuditRetention     time.Duration // AUDIT_RETENTION_DAYS: how long audit entries are kept
	OutageGrace        time.Duration // OUTAGE_GRACE
	ScanBudget         time.Duration // SCAN_BUDGET
	// ScanConcurrency (SCAN_CONCURRENCY) is how many due connections a
	// scan run checks at once (1 to 256).
	ScanConcurrency int
	// ScanSweepPages (SCAN_SWEEP_PAGES) is how many pages of the token
	// sweep a scan run carries out after its due work (0: no sweep).
	ScanSweepPages int
	// RequestTimeout bounds the work of one API request (REQUEST_TIMEOUT):
	// it must end, with a JSON answer, before the function's own timeout
	// and API Gateway's 30 s integration timeout do.
	RequestTimeout time.Duration
	// SecretCacheTTL (SECRET_CACHE_TTL) is how long a container keeps the
	// OAuth client secrets it read (the deployment apps', the accounts'),
	// never tokens; 0 keeps none.
	SecretCacheTTL time.Duration
	LogLevel       slog.Level // LOG_LEVEL
}

// DefaultSecretCacheTTL is SECRET_CACHE_TTL's default: a client secret an
// operator or another container changed is used within 5 minutes.
const DefaultSecretCacheTTL = 5 * time.Minute

// MaxScanConcurrency bounds SCAN_CONCURRENCY: past it a run would hold more
// connections open to the table, the vault and the vendors than one
// Lambda's network comfortably takes.
const MaxScanConcurrency = 256

// MaxScanSweepPages bounds SCAN_SWEEP_PAGES (pages of 1,000 items read).
const MaxScanSweepPages = 10000

// DefaultRequestTimeout is REQUEST_TIMEOUT's default: well under the API
// functions' 20 s timeout (template.yaml) and API Gateway's 30 s.
const DefaultRequestTimeout = 15 * time.Second

// Claims are the JWT claim names identity is read from.
type Claims struct {
	UserID, Email, Name, Account, Role string
}

// FromEnv reads the configuration; getenv is os.Getenv or a test map.
func FromEnv(getenv func(string) string) (Config, error) {
	get := func(k, def string) string {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
		return def
	}
	c := Config{
		TableName:    get("TABLE_NAME", "connections"),
		SecretPrefix: strings.TrimRight(get("SECRET_PREFIX", "connections"), "/"),
		Claims: Claims{
			UserID:  get("CLAIM_USER_ID", "sub"),
			Email:   get("CLAIM_EMAIL", "email"),
			Name:    get("CLAIM_NAME", "name"),
			Account: get("CLAIM_ACCOUNT_ID", "account_id"),
			Role:    get("CLAIM_ROLE", "role"),
		},
		AppManagerRole:    get("APP_MANAGER_ROLE", "appManager"),
		RedirectURL:       get("OAUTH_REDIRECT_URL", "http://127.0.0.1:3000/console/callback"),
		FrontendURL:       strings.TrimRight(get("FRONTEND_URL", "http://127.0.0.1:3000/console"), "/"),
		UserReconnectPath: get("USER_RECONNECT_PATH", "/profile/external-apps"),
		AppReconnectPath:  get("APP_RECONNECT_PATH", "/manage/apps/integrations"),
		MailFrom:          get("MAIL_FROM", "no-reply@example.com"),
		EventBusName:      get("EVENT_BUS_NAME", "default"),
		MetricsNamespace:  get("METRICS_NAMESPACE", metrics.DefaultNamespace),
	}
	c.UserTokenStore = get("USER_TOKEN_STORE", vault.StoreSecrets)
	if c.UserTokenStore != vault.StoreSecrets && c.UserTokenStore != vault.StoreSealed {
		return c, fmt.Errorf("USER_TOKEN_STORE must be %s or %s", vault.StoreSecrets, vault.StoreSealed)
	}
	c.UserTokenKey = get("USER_TOKEN_KEY", DefaultUserTokenKey)
	if !kmsKey.MatchString(c.UserTokenKey) {
		return c, fmt.Errorf("USER_TOKEN_KEY must be a KMS key id, key ARN, alias name or alias ARN")
	}
	if !eventBus.MatchString(c.EventBusName) {
		return c, fmt.Errorf("EVENT_BUS_NAME must be an event bus name or ARN")
	}
	if !metricsNamespace.MatchString(c.MetricsNamespace) || strings.HasPrefix(c.MetricsNamespace, "AWS/") {
		return c, fmt.Errorf("METRICS_NAMESPACE must be a CloudWatch namespace (1-255 of A-Z a-z 0-9 . - _ / # : and space, not starting with AWS/)")
	}
	c.AtlassianClientSecretName = get("ATLASSIAN_CLIENT_SECRET_NAME", vault.DeploymentSecretName(c.SecretPrefix, atlassianApp))
	for _, kind := range []string{vault.TokensDir, vault.ClientsDir} {
		// Those names are the service's own (and IAM lets functions that
		// must never see app credentials read or write them).
		if vault.Under(c.SecretPrefix, kind, c.AtlassianClientSecretName) {
			return c, fmt.Errorf("ATLASSIAN_CLIENT_SECRET_NAME must not be under %s/%s/", c.SecretPrefix, kind)
		}
	}
	c.DeploymentSecrets = DeploymentSecrets(c.SecretPrefix, c.AtlassianClientSecretName)
	c.AllowedInstanceHosts = list(get("ALLOWED_INSTANCE_HOSTS", ""))
	c.PrivateVendorHosts = list(get("PRIVATE_VENDOR_HOSTS", ""))
	var err error
	if c.VendorBaseURLs, err = parseBases(get("VENDOR_BASE_URLS", ""), c.PrivateVendorHosts); err != nil {
		return c, err
	}
	days, err := strconv.Atoi(get("WARNING_DAYS", "10"))
	if err != nil || days < 0 {
		return c, fmt.Errorf("WARNING_DAYS must be a whole number of days")
	}
	c.WarningWindow = time.Duration(days) * 24 * time.Hour
	idleDays, err := strconv.Atoi(get("IDLE_CHECK_DAYS", "30"))
	if err != nil || idleDays < 1 || idleDays > 365 {
		return c, fmt.Errorf("IDLE_CHECK_DAYS must be 1 to 365")
	}
	c.IdleCheck = time.Duration(idleDays) * 24 * time.Hour
	if c.SecretRecoveryDays, err = strconv.Atoi(get("SECRET_RECOVERY_DAYS", "7")); err != nil || c.SecretRecoveryDays < 7 || c.SecretRecoveryDays > 30 {
		return c, fmt.Errorf("SECRET_RECOVERY_DAYS must be 7 to 30")
	}
	auditDays, err := strconv.Atoi(get("AUDIT_RETENTION_DAYS", "400"))
	if err != nil || auditDays < 1 || auditDays > 3650 {
		return c, fmt.Errorf("AUDIT_RETENTION_DAYS must be 1 to 3650")
	}
	c.AuditRetention = time.Duration(auditDays) * 24 * time.Hour
	if c.OutageGrace, err = time.ParseDuration(get("OUTAGE_GRACE", "72h")); err != nil {
		return c, fmt.Errorf("OUTAGE_GRACE: %w", err)
	}
	if c.ScanBudget, err = time.ParseDuration(get("SCAN_BUDGET", "60s")); err != nil {
		return c, fmt.Errorf("SCAN_BUDGET: %w", err)
	}
	if c.ScanConcurrency, err = strconv.Atoi(get("SCAN_CONCURRENCY", "64")); err != nil || c.ScanConcurrency < 1 || c.ScanConcurrency > MaxScanConcurrency {
		return c, fmt.Errorf("SCAN_CONCURRENCY must be 1 to %d", MaxScanConcurrency)
	}
	if c.ScanSweepPages, err = strconv.Atoi(get("SCAN_SWEEP_PAGES", "1000")); err != nil || c.ScanSweepPages < 0 || c.ScanSweepPages > MaxScanSweepPages {
		return c, fmt.Errorf("SCAN_SWEEP_PAGES must be 0 to %d", MaxScanSweepPages)
	}
	if c.RequestTimeout, err = time.ParseDuration(get("REQUEST_TIMEOUT", DefaultRequestTimeout.String())); err != nil || c.RequestTimeout <= 0 {
		return c, fmt.Errorf("REQUEST_TIMEOUT must be a positive Go duration, e.g. 15s")
	}
	if c.SecretCacheTTL, err = time.ParseDuration(get("SECRET_CACHE_TTL", DefaultSecretCacheTTL.String())); err != nil || c.SecretCacheTTL < 0 || c.SecretCacheTTL > time.Hour {
		return c, fmt.Errorf("SECRET_CACHE_TTL must be a Go duration from 0s to 1h, e.g. 5m")
	}
	if err := c.LogLevel.UnmarshalText([]byte(get("LOG_LEVEL", "INFO"))); err != nil {
		return c, fmt.Errorf("LOG_LEVEL: %w", err)
	}
	if u, err := url.Parse(c.RedirectURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return c, fmt.Errorf("OAUTH_REDIRECT_URL must be an absolute http(s) URL")
	}
	return c, nil
}

// atlassianApp is the id of the Atlassian app (Confluence's, which Jira
// shares), whose secret ATLASSIAN_CLIENT_SECRET_NAME may name.
const atlassianApp = "confluence"

// DeploymentSecrets is the one place the deployment apps' secret names
// are made: for every app the registry's vendors use (vendors.DeploymentApps),
// <prefix>/deployment/<app>/client, except the Atlassian app's, which is
// atlassian (ATLASSIAN_CLIENT_SECRET_NAME, by default that same name).
func DeploymentSecrets(prefix, atlassian string) map[string]string {
	out := map[string]string{}
	for _, app := range vendors.DeploymentApps() {
		out[app] = vault.DeploymentSecretName(prefix, app)
	}
	if _, ok := out[atlassianApp]; ok && atlassian != "" {
		out[atlassianApp] = atlassian
	}
	return out
}

// DefaultUserTokenKey is USER_TOKEN_KEY's default: the alias a local
// emulator's key gets (the template sets the key's ARN).
const DefaultUserTokenKey = "alias/connections-user-tokens"

// kmsKey is a KMS key id, key ARN, alias name or alias ARN.
var kmsKey = regexp.MustCompile(`^([0-9a-fA-F-]{1,64}|mrk-[0-9a-f]{32}|alias/[a-zA-Z0-9:/_-]{1,250}|arn:[a-z-]+:kms:[a-z0-9-]+:\d{12}:(key/[0-9a-zA-Z-]{1,64}|alias/[a-zA-Z0-9:/_-]{1,250}))$`)

// eventBus is an EventBridge event bus name (letters, digits, ".-_/", at
// most 256) or an event bus ARN.
var eventBus = regexp.MustCompile(`^([/.\-_A-Za-z0-9]{1,256}|arn:[a-z-]+:events:[a-z0-9-]+:\d{12}:event-bus/[/.\-_A-Za-z0-9]{1,256})$`)

// metricsNamespace is a CloudWatch namespace (PutMetricData's rules:
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html).
var metricsNamespace = regexp.MustCompile(`^[0-9A-Za-z.\-_/#: ]{0,254}[0-9A-Za-z.\-_/#:]$`)

// list reads a comma-separated list, dropping empty items.
func list(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// parseBases reads "servicenow.instance=https://…/{name},confluence.auth=…".
// Each URL is https, or plain http on a host marked private.
func parseBases(s string, private []string) (map[string]string, error) {
	out := map[string]string{}
	if s == "" {
		return out, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || !strings.Contains(k, ".") || v == "" {
			return nil, fmt.Errorf("VENDOR_BASE_URLS: %q is not vendor.base=url", kv)
		}
		u, err := url.Parse(v)
		if err != nil || u.Host == "" || u.User != nil {
			return nil, fmt.Errorf("VENDOR_BASE_URLS: %s is not an absolute URL", k)
		}
		if u.Scheme != "https" && (u.Scheme != "http" || !safehttp.MatchHost(private, u.Host)) {
			return nil, fmt.Errorf("VENDOR_BASE_URLS: %s must be https (plain http only on a host in PRIVATE_VENDOR_HOSTS)", k)
		}
		out[k] = v
	}
	return out, nil
}
