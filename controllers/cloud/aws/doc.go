// Package aws is the AWS cloud.Provider: a ServerGroup is an EC2 Auto Scaling group.
//
// # Accounts
//
// Connect builds an aws.Config for a CloudAccount and makes no call. A Workload account uses the SDK's
// default chain (IRSA, EKS Pod Identity); a Secret account's key is an INI-style block
// (aws_access_key_id, aws_secret_access_key, optional aws_session_token) and its config is built by hand,
// so no AWS_* environment variable or shared config file of the operator's pod leaks into it.
// spec.aws.assumeRoleARN assumes a role through STS on top of either (session name "gennaker", with the
// external ID when one is set), and spec.aws.endpoint is the base endpoint of every service. Requests retry
// with the SDK's standard retryer (throttling, 5xx and connection errors, exponential backoff with
// jitter); nothing here retries on top of it. Service clients are built per region on first use; a
// ServerGroup's region is spec.region, and Verify (STS GetCallerIdentity) uses the account's first region.
//
// # Server groups
//
// The Auto Scaling group has the ServerGroup's name and is tagged gennaker.io/server-group
// (namespace/name), gennaker.io/uid and gennaker.io/cluster, propagated to its instances. It launches
// from a launch template:
//
//   - spec.aws.launchTemplate without imageID or instanceType: that template and version, as they are;
//   - spec.aws.launchTemplate with imageID or instanceType: a new version of that template, based on the
//     given version ($Latest and $Default are resolved to their numbers), carrying the image and type,
//     described as namespace/name; the group uses that version's number;
//   - no spec.aws.launchTemplate: a new launch template named after the ServerGroup, made from imageID
//     (required) and instanceType, used at $Latest and deleted with the group.
//
// Template writes carry a client token derived from the ServerGroup's UID, so a Create repeated after a
// crash gets the same template or version back instead of a new one.
//
// # Traffic
//
// A group takes traffic (Enabled) when every spec.aws.targetGroupARNs is attached to it and its
// AddToLoadBalancer process is not suspended. Enabling resumes AddToLoadBalancer, Launch and Terminate
// and attaches the missing target groups; disabling detaches the attached target groups and suspends
// those three processes, so the group neither replaces instances nor scales while out of its load
// balancers (Spinnaker's disable). A group created Disabled starts with no target group and with
// AddToLoadBalancer suspended, but Launch running, so its instances come up and can be checked before it
// takes traffic. UpdateCapacity resumes Launch and Terminate (not AddToLoadBalancer) first, so a disabled
// group really scales in or out.
//
// # Health
//
// Instances.Running counts InService instances. Healthy counts, for a group whose traffic is Enabled and
// which has target groups, the InService instances that DescribeTargetHealth reports healthy in every
// target group; otherwise the InService instances whose Auto Scaling health status is Healthy.
//
// # Errors
//
// Every SDK error comes back as a *cloud.Error whose Reason is derived from the AWS error code and the
// HTTP status: throttling codes give Throttled, authentication and authorization codes AccessDenied,
// *NotFound* codes (and ValidationErrors saying "not found") NotFound, other 4xx InvalidRequest, 5xx
// Unavailable, and transport failures (DNS, connection refused, timeouts) Unreachable.
package aws
