package aws

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
)

// Defaults of the Provider's retry settings. One call, its retries included, takes at most
// MaxCallDuration (26 s with these), inside the deadline the reconcilers give a reconcile, so that a
// slow or hanging endpoint ends in a retryable error on the object instead of a stuck worker.
const (
	DefaultMaxAttempts    = 4
	DefaultMaxBackoff     = 2 * time.Second
	DefaultAttemptTimeout = 5 * time.Second
)

// RoleSessionName is the STS session name of an assumed role.
const RoleSessionName = "gennaker"

// Provider builds AWS Clients. The zero value is ready to use.
type Provider struct {
	// HTTPClient sends the requests; nil means the SDK's default.
	HTTPClient *http.Client
	// MaxAttempts is how many times the SDK tries a request (throttling, 5xx, connection errors) before
	// giving up; 0 means DefaultMaxAttempts.
	MaxAttempts int
	// MaxBackoff caps the SDK's backoff between attempts; 0 means DefaultMaxBackoff.
	MaxBackoff time.Duration
	// AttemptTimeout bounds each HTTP attempt, from dialing to the end of the response body, so that one
	// hanging attempt leaves room for the retries; 0 means DefaultAttemptTimeout. An HTTPClient with a
	// Timeout of its own keeps it.
	AttemptTimeout time.Duration
}

// MaxCallDuration is the longest one call can take with the Provider's settings: every attempt timing
// out, with the longest backoff between them.
func (p *Provider) MaxCallDuration() time.Duration {
	attempts, backoff, timeout := p.settings()
	return time.Duration(attempts)*timeout + time.Duration(attempts-1)*backoff
}

// settings are the Provider's retry settings, defaults applied.
func (p *Provider) settings() (attempts int, backoff, timeout time.Duration) {
	attempts, backoff, timeout = p.MaxAttempts, p.MaxBackoff, p.AttemptTimeout
	if attempts <= 0 {
		attempts = DefaultMaxAttempts
	}
	if backoff <= 0 {
		backoff = DefaultMaxBackoff
	}
	if timeout <= 0 {
		timeout = DefaultAttemptTimeout
	}
	return attempts, backoff, timeout
}

// httpClient is the client the SDK sends with: the Provider's, or else base (the SDK's default), each
// with the attempt timeout unless it has a timeout already.
func (p *Provider) httpClient(base aws.HTTPClient) aws.HTTPClient {
	_, _, timeout := p.settings()
	if p.HTTPClient != nil {
		if p.HTTPClient.Timeout != 0 {
			return p.HTTPClient
		}
		c := *p.HTTPClient
		c.Timeout = timeout
		return &c
	}
	if b, ok := base.(*awshttp.BuildableClient); ok {
		return b.WithTimeout(timeout)
	}
	return awshttp.NewBuildableClient().WithTimeout(timeout)
}

var _ cloud.Provider = (*Provider)(nil)

// Connect builds a Client for the account without calling AWS.
func (p *Provider) Connect(ctx context.Context, account *v1alpha1.CloudAccount, creds cloud.Credentials) (cloud.Client, error) {
	const op = "Connect"
	if account == nil || account.Spec.AWS == nil {
		return nil, cloud.Invalid(op, "spec.aws is required for an aws account")
	}
	spec := account.Spec.AWS
	if len(spec.Regions) == 0 {
		return nil, cloud.Invalid(op, "spec.aws.regions is empty")
	}
	region := spec.Regions[0]

	logger := sdkLogger{log.Log.WithName("aws-sdk").WithValues("account", account.Name)}
	var cfg aws.Config
	if creds.Empty() {
		opts := []func(*config.LoadOptions) error{
			config.WithRegion(region),
			config.WithRetryer(p.retryer),
			config.WithLogger(logger),
		}
		if spec.Endpoint != "" {
			opts = append(opts, config.WithBaseEndpoint(string(spec.Endpoint)))
		}
		var err error
		cfg, err = config.LoadDefaultConfig(ctx, opts...)
		if err != nil {
			return nil, wrap(op, err)
		}
		// Set after loading: LoadDefaultConfig refuses a plain *http.Client when AWS_CA_BUNDLE is set,
		// and its own client carries that bundle.
		cfg.HTTPClient = p.httpClient(cfg.HTTPClient)
	} else {
		key, err := parseCredentials(creds.Bytes())
		if err != nil {
			return nil, &cloud.Error{Reason: cloud.InvalidRequest, Op: op, Err: err}
		}
		cfg = aws.Config{
			Region:      region,
			Credentials: credentials.NewStaticCredentialsProvider(key.id, key.secret, key.token),
			Retryer:     p.retryer,
			Logger:      logger,
			HTTPClient:  p.httpClient(nil),
		}
		if spec.Endpoint != "" {
			cfg.BaseEndpoint = aws.String(string(spec.Endpoint))
		}
	}

	cfg.APIOptions = append(cfg.APIOptions, countRequests)
	if spec.AssumeRoleARN != "" {
		stsClient := sts.NewFromConfig(cfg)
		externalID := spec.ExternalID
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClient, spec.AssumeRoleARN,
			func(o *stscreds.AssumeRoleOptions) {
				o.RoleSessionName = RoleSessionName
				if externalID != "" {
					o.ExternalID = aws.String(externalID)
				}
			}))
	}

	return &Client{
		cfg:     cfg,
		regions: append([]string(nil), spec.Regions...),
		clients: map[string]*regional{},
	}, nil
}

// retryer is the SDK's standard retryer with the Provider's attempts and backoff.
func (p *Provider) retryer() aws.Retryer {
	attempts, backoff, _ := p.settings()
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = attempts
		o.MaxBackoff = backoff
	})
}

// Client acts on one AWS account. It is safe for concurrent use.
type Client struct {
	// cfg is the account's config; its Region is the first region, replaced per region.
	cfg     aws.Config
	regions []string

	mu      sync.Mutex
	clients map[string]*regional
}

var _ cloud.Client = (*Client)(nil)

// String describes the client without its credentials, so that formatting it cannot leak a key.
func (c *Client) String() string {
	return "aws.Client{regions: " + strings.Join(c.regions, ",") + "}"
}

// GoString is String, for %#v.
func (c *Client) GoString() string { return c.String() }

// regional holds one region's service clients.
type regional struct {
	asg *autoscaling.Client
	elb *elbv2.Client
	ec2 *ec2.Client
	sts *sts.Client
}

// region returns the service clients of a region, building them on first use.
func (c *Client) region(name string) *regional {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.clients[name]; ok {
		return r
	}
	cfg := c.cfg.Copy()
	cfg.Region = name
	r := &regional{
		asg: autoscaling.NewFromConfig(cfg),
		elb: elbv2.NewFromConfig(cfg),
		ec2: ec2.NewFromConfig(cfg),
		sts: sts.NewFromConfig(cfg),
	}
	c.clients[name] = r
	return r
}

// regionOf returns the clients of a ServerGroup's region, which must be one of the account's.
func (c *Client) regionOf(op string, sg *v1alpha1.ServerGroup) (*regional, error) {
	name := sg.Spec.Region
	if name == "" {
		return nil, cloud.Invalid(op, "spec.region is required")
	}
	for _, r := range c.regions {
		if r == name {
			return c.region(name), nil
		}
	}
	return nil, cloud.Invalid(op, fmt.Sprintf("region %s is not among the account's regions", name))
}

// Verify calls STS GetCallerIdentity in the account's first region and returns the caller's ARN.
func (c *Client) Verify(ctx context.Context) (string, error) {
	const op = "GetCallerIdentity"
	out, err := c.region(c.regions[0]).sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", wrap(op, err)
	}
	return aws.ToString(out.Arn), nil
}

// The keys of an AWS credentials block.
const (
	keyAccessKeyID     = "aws_access_key_id"
	keySecretAccessKey = "aws_secret_access_key"
	keySessionToken    = "aws_session_token"
)

// accessKey is a parsed credentials block. It has no String method on purpose: nothing formats it.
type accessKey struct{ id, secret, token string }

// parseCredentials reads an INI-style credentials block: key = value lines, blank lines, # and ;
// comments, and an optional [section] header; a second header ends the block. Its errors name keys and
// line numbers, never a value.
func parseCredentials(b []byte) (accessKey, error) {
	var k accessKey
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	seen := false // a header or a key was read
lines:
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
			continue
		case line[0] == '[':
			if seen {
				break lines
			}
			if !strings.HasSuffix(line, "]") {
				return accessKey{}, fmt.Errorf("credentials: line %d is not a [section] header", i+1)
			}
			seen = true
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			return accessKey{}, fmt.Errorf("credentials: line %d is not a key = value pair", i+1)
		}
		seen = true
		value = strings.TrimSpace(value)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case keyAccessKeyID:
			k.id = value
		case keySecretAccessKey:
			k.secret = value
		case keySessionToken:
			k.token = value
		}
	}
	var missing []string
	if k.id == "" {
		missing = append(missing, keyAccessKeyID)
	}
	if k.secret == "" {
		missing = append(missing, keySecretAccessKey)
	}
	switch len(missing) {
	case 0:
		return k, nil
	case 1:
		return accessKey{}, fmt.Errorf("credentials: %s is missing", missing[0])
	default:
		return accessKey{}, errors.New("credentials: " + strings.Join(missing, " and ") + " are missing")
	}
}
