package aws

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"time"
)

// identity is who a request is made as.
type identity struct {
	accessKeyID string
	account     string
	arn         string
	userID      string
}

// tempCred is a credential issued by AssumeRole.
type tempCred struct {
	secret  string
	token   string
	expires time.Time
	id      identity
}

// authenticate checks the SigV4 Authorization header. It extracts the access
// key and the credential scope and checks that the key is known (and, for
// temporary keys, that the session token matches and has not expired) and that
// the scope names svc. It does not recompute the signature: that would test the
// SDK's signer more than gennaker, and would make the sim fragile for little
// benefit. It returns the caller and the region from the scope.
func (s *Sim) authenticate(r *http.Request, svc *service) (*identity, string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, "", errf(http.StatusForbidden, "MissingAuthenticationToken", "Request is missing Authentication Token")
	}
	const algo = "AWS4-HMAC-SHA256"
	rest, ok := strings.CutPrefix(h, algo+" ")
	if !ok {
		return nil, "", errf(http.StatusBadRequest, "IncompleteSignature", "Authorization header requires the %s algorithm.", algo)
	}
	params := map[string]string{}
	for _, p := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		params[k] = v
	}
	for _, k := range []string{"Credential", "SignedHeaders", "Signature"} {
		if params[k] == "" {
			return nil, "", errf(http.StatusBadRequest, "IncompleteSignature", "Authorization header requires '%s' parameter.", k)
		}
	}
	scope := strings.Split(params["Credential"], "/")
	if len(scope) != 5 || scope[0] == "" || scope[2] == "" || scope[4] != "aws4_request" {
		return nil, "", errf(http.StatusBadRequest, "IncompleteSignature", "Credential must have the form <key>/<date>/<region>/<service>/aws4_request.")
	}
	akid, region, scopeSvc := scope[0], scope[2], scope[3]
	if scopeSvc != svc.name {
		return nil, "", errf(http.StatusForbidden, "SignatureDoesNotMatch", "Credential should be scoped to correct service: '%s'.", svc.name)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[akid]; ok {
		id := s.userIdentity(akid)
		return &id, region, nil
	}
	if tc, ok := s.temp[akid]; ok {
		if r.Header.Get("X-Amz-Security-Token") != tc.token {
			return nil, "", invalidToken(svc)
		}
		if !s.opts.Now().Before(tc.expires) {
			return nil, "", errf(http.StatusForbidden, "ExpiredToken", "The security token included in the request is expired")
		}
		id := tc.id
		return &id, region, nil
	}
	return nil, "", invalidToken(svc)
}

// invalidToken is the error for an unknown access key. The Query services say
// InvalidClientTokenId; EC2 says AuthFailure with 401, as the real ones do, so
// that code classifying auth errors is exercised with both.
func invalidToken(svc *service) error {
	if svc.ec2 {
		return errf(http.StatusUnauthorized, "AuthFailure", "AWS was not able to validate the provided access credentials")
	}
	return errf(http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid.")
}

// userIdentity is the IAM user that owns a long-term key. The user is named
// after the key so that tests with several keys can tell callers apart.
func (s *Sim) userIdentity(akid string) identity {
	return identity{
		accessKeyID: akid,
		account:     s.opts.AccountID,
		arn:         "arn:aws:iam::" + s.opts.AccountID + ":user/" + akid,
		userID:      "AIDA" + stableSuffix(akid),
	}
}

// stableSuffix derives a unique-ID-like suffix from a name, so that the same
// user or role always gets the same ID.
func stableSuffix(name string) string {
	sum := sha256.Sum256([]byte(name))
	return strings.ToUpper(hex.EncodeToString(sum[:8]))
}
