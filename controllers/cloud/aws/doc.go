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
// jitter); nothing here retries on top of it. Each HTTP attempt has a deadline (AttemptTimeout, 5 s), and
// one call with all its attempts takes at most MaxCallDuration (26 s), inside the deadline of a reconcile:
// a hanging endpoint ends in an EndpointUnreachable error, never in a stuck worker. Service clients are
// built per region on first use; a ServerGroup's region is spec.region, and Verify (STS
// GetCallerIdentity) uses the account's first region.
//
// # Ownership
//
// Everything Create makes carries the cloud package's owner tags as AWS tags of the same keys:
// gennaker.io/managed-by (gennaker), gennaker.io/server-group (namespace/name), gennaker.io/uid and
// gennaker.io/cluster; the Auto Scaling group's are propagated to its instances. The group is found by the
// ServerGroup's name, and is the ServerGroup's only when its gennaker.io/uid tag is the ServerGroup's UID
// (cloud.Check): Create, UpdateCapacity, SetTraffic, Delete and Adopt look at the tags before any write and
// refuse any other group with a NotOwned error. Adopt rewrites the group's owner tags with
// CreateOrUpdateTags (other tags stay), and those of the launch template named after the ServerGroup with
// EC2 CreateTags when an earlier ServerGroup of the same namespace and name made it. A launch template is
// deleted with the group only when its gennaker.io/uid tag is the ServerGroup's.
//
// # Server groups
//
// The Auto Scaling group has the ServerGroup's name and launches from a launch template at a version
// number, never an alias, so that a later version of a template never reaches a group made before it:
//
//   - spec.aws.launchTemplate without imageID or instanceType: that template, at its version resolved to
//     a number when the group is made; the number is kept in status.aws.launchTemplate, and a group made
//     again (deleted behind the operator's back) uses it;
//   - spec.aws.launchTemplate with imageID or instanceType: a launch template named after the ServerGroup,
//     made from that version's data (DescribeLaunchTemplateVersions, carried over field by field; a field
//     that cannot be, such as a managed template's operator, is refused as InvalidRequest naming it) with
//     the image and type replaced. The template named in the spec never gets a version from the operator;
//   - no spec.aws.launchTemplate: a launch template named after the ServerGroup, made from imageID
//     (required) and instanceType.
//
// A template made for the ServerGroup is deleted with the group. Template writes carry a client token
// derived from the ServerGroup's UID and what the data comes from, so a Create repeated after a crash gets
// the same template back instead of a new one; a template of that name that is there already is used only
// if its tags name the ServerGroup.
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
// HTTP status (NotOwned comes from the tags, before any write): throttling codes give Throttled, authentication and authorization codes AccessDenied,
// *NotFound* codes (and ValidationErrors saying "not found") NotFound, other 4xx InvalidRequest, 5xx
// Unavailable, and transport failures (DNS, connection refused, timeouts) Unreachable.
package aws
