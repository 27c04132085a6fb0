package azure

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// tokenLifetime is how long an issued token is accepted, on the Sim's clock.
const tokenLifetime = time.Hour

// openIDConfiguration is the tenant's discovery document, which MSAL reads before asking for a token.
func (s *Sim) openIDConfiguration(w http.ResponseWriter, r *http.Request, rt route) {
	if !strings.EqualFold(rt.tenant, s.opts.TenantID) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_tenant", "error_description": "AADSTS90002: Tenant '" + rt.tenant + "' not found."})
		return
	}
	base := baseURL(r) + "/" + rt.tenant
	writeJSON(w, http.StatusOK, map[string]any{
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"issuer":                                base + "/v2.0",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt"},
	})
}

// token issues an access token for a client credentials grant with a known client secret or federated
// assertion. The errors are Entra's OAuth errors, which never echo a secret.
func (s *Sim) token(w http.ResponseWriter, r *http.Request, rt route, now time.Time) {
	deny := func(status int, code, desc string) {
		writeJSON(w, status, map[string]any{"error": code, "error_description": desc})
	}
	if !strings.EqualFold(rt.tenant, s.opts.TenantID) {
		deny(http.StatusBadRequest, "invalid_request", "AADSTS90002: Tenant '"+rt.tenant+"' not found.")
		return
	}
	if err := r.ParseForm(); err != nil {
		deny(http.StatusBadRequest, "invalid_request", "the body is not a form")
		return
	}
	if r.PostForm.Get("grant_type") != "client_credentials" {
		deny(http.StatusBadRequest, "unsupported_grant_type", "only client_credentials is supported")
		return
	}
	if !slices.ContainsFunc(strings.Fields(r.PostForm.Get("scope")), func(s string) bool { return strings.HasSuffix(s, "/.default") }) {
		deny(http.StatusBadRequest, "invalid_scope", "AADSTS70011: the scope must end in /.default")
		return
	}
	id := r.PostForm.Get("client_id")
	secret, assertion := r.PostForm.Get("client_secret"), r.PostForm.Get("client_assertion")
	switch {
	case secret != "":
		if want, ok := s.opts.Clients[id]; !ok || want != secret {
			deny(http.StatusUnauthorized, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
			return
		}
	case assertion != "":
		if want, ok := s.opts.Federated[id]; !ok || want != assertion {
			deny(http.StatusUnauthorized, "invalid_client", "AADSTS700213: No matching federated identity record found for presented assertion.")
			return
		}
	default:
		deny(http.StatusUnauthorized, "invalid_client", "AADSTS7000216: client_secret or client_assertion is required.")
		return
	}
	tok := "simtoken-" + s.newID()
	s.tokens[tok] = now.Add(tokenLifetime)
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type":     "Bearer",
		"access_token":   tok,
		"expires_in":     int(tokenLifetime / time.Second),
		"ext_expires_in": int(tokenLifetime / time.Second),
	})
}
