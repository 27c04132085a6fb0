package aws_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
	awsprovider "github.com/gennaker/gennaker/controllers/cloud/aws"
)

// distinctive values that must never show up in an error.
const (
	secretValue = "S3cr3t-V4lue-Th4t-Must-N0t-Leak/xyz"
	tokenValue  = "T0ken-V4lue-Th4t-Must-N0t-Leak"
)

func secretAccount(endpoint string) *v1alpha1.CloudAccount {
	return &v1alpha1.CloudAccount{Spec: v1alpha1.CloudAccountSpec{
		Provider:    v1alpha1.ProviderAWS,
		Credentials: v1alpha1.Credentials{Source: v1alpha1.CredentialSourceSecret},
		AWS:         &v1alpha1.AWSAccount{Regions: []string{"us-east-1", "eu-west-1"}, Endpoint: v1alpha1.Endpoint(endpoint)},
	}}
}

func TestConnectParsesCredentialBlocks(t *testing.T) {
	good := []string{
		"aws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = " + secretValue + "\n",
		"[default]\r\naws_access_key_id=AKIDEXAMPLE\r\naws_secret_access_key=" + secretValue + "\r\n",
		"# a comment\n; another\n\n[gennaker]\n  AWS_ACCESS_KEY_ID = AKIDEXAMPLE  \naws_secret_access_key = " + secretValue +
			"\naws_session_token = " + tokenValue + "\nregion = us-east-1\n",
		"\xef\xbb\xbfaws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = " + secretValue,
		// A second section ends the block.
		"[a]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = " + secretValue + "\n[b]\naws_access_key_id = other\n",
	}
	for i, block := range good {
		if _, err := (&awsprovider.Provider{}).Connect(context.Background(), secretAccount("http://127.0.0.1:1"),
			cloud.NewCredentials([]byte(block))); err != nil {
			t.Errorf("block %d: %v", i, err)
		}
	}

	bad := []struct{ block, want string }{
		{"aws_access_key_id = AKIDEXAMPLE\n", "credentials: aws_secret_access_key is missing"},
		{"[default]\naws_secret_access_key = " + secretValue + "\naws_session_token = " + tokenValue, "credentials: aws_access_key_id is missing"},
		{"aws_access_key_id = AKIDEXAMPLE\naws_secret_access_key =\n", "credentials: aws_secret_access_key is missing"},
		{"# nothing\n", "credentials: aws_access_key_id and aws_secret_access_key are missing"},
		{"[a]\naws_access_key_id = AKIDEXAMPLE\n[b]\naws_secret_access_key = " + secretValue, "credentials: aws_secret_access_key is missing"},
		{"aws_access_key_id = AKIDEXAMPLE\n" + secretValue + "\n", "credentials: line 2 is not a key = value pair"},
		{"[broken " + secretValue + "\n", "credentials: line 1 is not a [section] header"},
	}
	for i, c := range bad {
		_, err := (&awsprovider.Provider{}).Connect(context.Background(), secretAccount(""), cloud.NewCredentials([]byte(c.block)))
		if err == nil {
			t.Errorf("block %d: no error", i)
			continue
		}
		assertNoSecret(t, err)
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("block %d: error %q does not say %q", i, err, c.want)
		}
		if r := cloud.ReasonOf(err); r != cloud.InvalidRequest {
			t.Errorf("block %d: reason %s, want %s", i, r, cloud.InvalidRequest)
		}
	}
}

func TestConnectRefusesAnAccountWithoutAWS(t *testing.T) {
	acct := secretAccount("")
	acct.Spec.AWS.Regions = nil
	if _, err := (&awsprovider.Provider{}).Connect(context.Background(), acct, cloud.Credentials{}); cloud.ReasonOf(err) != cloud.InvalidRequest {
		t.Errorf("no regions: %v", err)
	}
	acct.Spec.AWS = nil
	if _, err := (&awsprovider.Provider{}).Connect(context.Background(), acct, cloud.Credentials{}); cloud.ReasonOf(err) != cloud.InvalidRequest {
		t.Errorf("no aws block: %v", err)
	}
}

// assertNoSecret fails the test if err, in any of fmt's renderings, carries the secret or token value.
func assertNoSecret(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
		if strings.Contains(s, secretValue) || strings.Contains(s, tokenValue) {
			t.Fatalf("error carries a secret: %s", s)
		}
	}
}

// isolateFromHost keeps the SDK's default chain off the host's AWS files and instance metadata.
func isolateFromHost(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", dir+"/config")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", dir+"/credentials")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "")
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "")
	t.Setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "")
}

func TestWorkloadAccountUsesTheDefaultChain(t *testing.T) {
	e := newEnv(t)
	isolateFromHost(t)
	t.Setenv("AWS_ACCESS_KEY_ID", testKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secretValue)
	acct := e.account()
	acct.Spec.Credentials = v1alpha1.Credentials{Source: v1alpha1.CredentialSourceWorkload}
	e.wantIdentity(e.connect(acct, cloud.Credentials{}), keyUser)
}

func TestSecretAccountIgnoresTheEnvironment(t *testing.T) {
	e := newEnv(t)
	isolateFromHost(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDFROMTHEENVIRONMENT")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
	t.Setenv("AWS_REGION", "ap-south-1")
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	c := e.connect(e.account(), keyBlock(testKeyID))
	e.wantIdentity(c, keyUser)
	e.create(serverGroup("web-main-v001", v1alpha1.TrafficEnabled, 1))
	if g := e.group("web-main-v001"); g.Region != region {
		t.Errorf("group in region %s", g.Region)
	}

	// Nor does formatting the client show the key.
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c)} {
		if strings.Contains(s, secretValue) {
			t.Errorf("the client formats with its secret: %s", s)
		}
	}
}
