package aws

import (
	"net/http"
	"regexp"
	"time"
)

var stsService = &service{
	name:    ServiceSTS,
	version: "2011-06-15",
	xmlns:   "https://sts.amazonaws.com/doc/2011-06-15/",
	ops: map[string]opFunc{
		"GetCallerIdentity": (*Sim).getCallerIdentity,
		"AssumeRole":        (*Sim).assumeRole,
	},
}

type getCallerIdentityResult struct {
	Arn     string `xml:"Arn"`
	UserID  string `xml:"UserId"`
	Account string `xml:"Account"`
}

func (s *Sim) getCallerIdentity(c *call) (any, error) {
	return getCallerIdentityResult{Arn: c.caller.arn, UserID: c.caller.userID, Account: c.caller.account}, nil
}

type assumeRoleResult struct {
	Credentials     stsCredentials  `xml:"Credentials"`
	AssumedRoleUser assumedRoleUser `xml:"AssumedRoleUser"`
}

type stsCredentials struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

type assumedRoleUser struct {
	AssumedRoleID string `xml:"AssumedRoleId"`
	Arn           string `xml:"Arn"`
}

var (
	roleARNPattern     = regexp.MustCompile(`^arn:aws[a-z-]*:iam::(\d{12}):role/(?:[\w+=,.@-]+/)*([\w+=,.@-]{1,64})$`)
	sessionNamePattern = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
)

const (
	alnumUpper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	secretABC  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

func (s *Sim) assumeRole(c *call) (any, error) {
	roleARN, err := requireParam(c.form, "RoleArn")
	if err != nil {
		return nil, err
	}
	session, err := requireParam(c.form, "RoleSessionName")
	if err != nil {
		return nil, err
	}
	m := roleARNPattern.FindStringSubmatch(roleARN)
	if m == nil {
		return nil, validation("%s is invalid", roleARN)
	}
	if !sessionNamePattern.MatchString(session) {
		return nil, validation("1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*", session)
	}
	duration := time.Hour
	if d, ok, err := optInt32(c.form, "DurationSeconds"); err != nil {
		return nil, err
	} else if ok {
		if d < 900 || d > 43200 {
			return nil, validation("1 validation error detected: Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200", d)
		}
		duration = time.Duration(d) * time.Second
	}

	// Refusals look the same whatever the reason, as in AWS, so that nothing
	// can probe which roles exist.
	wantExternal, known := s.roles[roleARN]
	if !known || (wantExternal != "" && c.form.Get("ExternalId") != wantExternal) {
		return nil, errf(http.StatusForbidden, "AccessDenied", "User: %s is not authorized to perform: sts:AssumeRole on resource: %s", c.caller.arn, roleARN)
	}

	account, roleName := m[1], m[2]
	roleID := "AROA" + stableSuffix(roleARN)
	tc := &tempCred{
		secret:  randomString(40, secretABC),
		token:   "FwoGZXIvYXdzE" + randomString(200, secretABC),
		expires: c.now.Add(duration),
		id: identity{
			account: account,
			arn:     "arn:aws:sts::" + account + ":assumed-role/" + roleName + "/" + session,
			userID:  roleID + ":" + session,
		},
	}
	akid := "ASIA" + randomString(16, alnumUpper)
	tc.id.accessKeyID = akid
	s.temp[akid] = tc
	s.dropExpiredTemp(c.now)

	return assumeRoleResult{
		Credentials: stsCredentials{
			AccessKeyID:     akid,
			SecretAccessKey: tc.secret,
			SessionToken:    tc.token,
			Expiration:      isoTS(tc.expires),
		},
		AssumedRoleUser: assumedRoleUser{AssumedRoleID: tc.id.userID, Arn: tc.id.arn},
	}, nil
}

// dropExpiredTemp forgets credentials that expired more than a day ago, so a
// long-running sim that keeps assuming roles does not grow without bound. Recent
// ones are kept so that their use still reports ExpiredToken rather than an
// unknown key.
func (s *Sim) dropExpiredTemp(now time.Time) {
	for k, tc := range s.temp {
		if now.Sub(tc.expires) > 24*time.Hour {
			delete(s.temp, k)
		}
	}
}
