package gcp

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// tokenLifetime is how long an access token the sim issues lasts. Tokens are
// not expired by the sim: the SDK refreshes them on its own clock.
const tokenLifetime = time.Hour

// authenticate returns who the bearer token of r stands for.
func (s *Sim) authenticate(r *http.Request) (string, *apiError) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if h == "" || !ok || tok == "" {
		return "", errf(http.StatusUnauthorized, "required", "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	who, ok := s.tokens[tok]
	if !ok {
		return "", errf(http.StatusUnauthorized, "authError", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
	}
	return who, nil
}

// issue makes a new access token for who. Callers hold s.mu.
func (s *Sim) issue(who string) string {
	tok := randomToken()
	s.tokens[tok] = who
	return tok
}

// serveToken is the OAuth 2.0 token endpoint of a service-account key's
// token_uri: the JWT-bearer grant (RFC 7523) with a JWT whose issuer is a
// known service account. The signature is not checked.
func (s *Sim) serveToken(w http.ResponseWriter, r *http.Request) {
	s.count("oauth2.token")
	oauthError := func(code int, kind, desc string) {
		writeJSON(w, code, map[string]string{"error": kind, "error_description": desc})
	}
	if err := r.ParseForm(); err != nil {
		oauthError(http.StatusBadRequest, "invalid_request", "the body is not a form")
		return
	}
	if r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		oauthError(http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: "+r.PostForm.Get("grant_type"))
		return
	}
	parts := strings.Split(r.PostForm.Get("assertion"), ".")
	if len(parts) != 3 {
		oauthError(http.StatusBadRequest, "invalid_grant", "Invalid JWT: not three parts")
		return
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct {
		Iss string `json:"iss"`
	}
	if err != nil || json.Unmarshal(payload, &claims) != nil {
		oauthError(http.StatusBadRequest, "invalid_grant", "Invalid JWT payload")
		return
	}
	s.mu.Lock()
	known := s.accounts[claims.Iss]
	var tok string
	if known {
		tok = s.issue(claims.Iss)
	}
	s.mu.Unlock()
	if !known {
		oauthError(http.StatusBadRequest, "invalid_grant", "Invalid grant: account not found")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int(tokenLifetime.Seconds())})
}

// serveGenerateAccessToken is IAM Credentials' generateAccessToken: an
// authenticated caller gets a token of an impersonable service account.
func (s *Sim) serveGenerateAccessToken(w http.ResponseWriter, r *http.Request) {
	s.count("iamcredentials.generateAccessToken")
	if _, err := s.authenticate(r); err != nil {
		writeError(w, err)
		return
	}
	// The path is /v1/projects/-/serviceAccounts/EMAIL:generateAccessToken.
	name := r.PathValue("account")
	email, ok := strings.CutSuffix(name, ":generateAccessToken")
	if !ok {
		writeError(w, errf(http.StatusNotFound, "notFound", "unknown method %s", name))
		return
	}
	s.mu.Lock()
	allowed := s.impersonable[email]
	var tok string
	if allowed {
		tok = s.issue(email)
	}
	s.mu.Unlock()
	if !allowed {
		writeError(w, errf(http.StatusForbidden, "forbidden", "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist)."))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{
		"accessToken": tok,
		"expireTime":  s.opts.Now().Add(tokenLifetime).UTC().Format(time.RFC3339),
	})
}

func (s *Sim) count(method string) {
	s.mu.Lock()
	s.calls[method]++
	s.mu.Unlock()
}
