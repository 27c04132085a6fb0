// Package azure is the Azure cloud.Provider: a ServerGroup is a virtual machine scale set, on
// armcompute (Microsoft.Compute api-version 2026-04-01) with azidentity.
//
// # Accounts
//
// Connect builds the SDK clients for a CloudAccount and makes no call. A Secret account's key is the
// client secret of spec.azure.clientID in spec.azure.tenantID (azidentity's ClientSecretCredential); a
// Workload account uses Azure workload identity (WorkloadIdentityCredential with that client and tenant
// and the federated token file AZURE_FEDERATED_TOKEN_FILE the webhook mounts). spec.azure.cloud picks
// AzurePublic, AzureChina or AzureUSGovernment (authority and Resource Manager endpoint), and
// spec.azure.endpoint overrides the Resource Manager endpoint: https anywhere, plain http only to a
// loopback address (the SDK's InsecureAllowCredentialWithHTTP is set then and only then). The endpoint
// never moves the Entra authority, where the secret goes: only the test-only Provider.AuthorityHost does
// (the manager's -azure-authority-host-for-tests flag, for make dev's simulator). Verify gets the
// subscription (GET /subscriptions/{id}): a token, then one ARM read. Requests retry with azcore's retry
// policy (429, 408, 5xx, connection errors; exponential backoff, Retry-After honoured up to
// MaxRetryDelay), each attempt bounded by TryTimeout.
//
// # Ownership
//
// Azure tag names may not contain "/", so the owner tags are gennaker.io_managed-by, gennaker.io_server-group,
// gennaker.io_uid and gennaker.io_cluster (the canonical keys with "_" for "/"). The scale set is found by
// the ServerGroup's name in spec.azure.resourceGroup and is the ServerGroup's only when its
// gennaker.io_uid tag is the ServerGroup's UID (cloud.Check): every write looks at the tags first and
// refuses any other scale set with NotOwned. Create PUTs with If-None-Match: *, so that it never replaces
// a scale set made meanwhile. Adopt rewrites the owner tags with a PATCH (other tags stay).
//
// # Server groups
//
// A Uniform scale set named after the ServerGroup, in spec.region: sku.name = spec.azure.vmSize,
// sku.capacity = capacity.desired, the image spec.azure.imageID, one NIC with one IP configuration in
// spec.azure.subnetID, upgrade policy Manual (the operator decides when instances take a new model), no
// overprovisioning (the instances observed are the capacity), and
// the Application Health extension (ApplicationHealthLinux, TCP port 80) so that each instance has a
// vmHealth. A scale set has no min and max: the ServerGroup's are kept in the tags gennaker.io_capacity-min
// and -max, written with sku.capacity in one PATCH by UpdateCapacity.
//
// # Traffic
//
// Enabled: the model's primary IP configuration lists every spec.azure.backendAddressPoolIDs and every
// instance runs with that model; Disabled: no IP configuration lists a pool. SetTraffic moves one step per
// call: it PATCHes the model's NIC configurations, and once that operation is over, calls updateInstances
// (POST manualupgrade) for the instances whose NIC configuration is not the model's yet. Observe reads
// what the instances run with (each instance's networkProfileConfiguration), so a group half way is
// reported in the state it is leaving until its instances are moved: a disable is never seen done while
// an instance is still in a pool. A server group without backend pools has nothing to move; its traffic
// is the spec's.
//
// # Health
//
// Running counts the instances whose provisioningState is Succeeded; Healthy those of them whose vmHealth
// (instance view, from the Application Health extension) is HealthState/healthy, whether or not the group
// takes traffic: ARM does not report a load balancer's probe per instance.
//
// # Long-running operations
//
// Every write is a long-running operation. The method that starts one returns it with its ID set to the
// SDK poller's ResumeToken(); Operation resumes the poller from it (Begin...(ResumeToken)) and polls once,
// never PollUntilDone. An operation ARM no longer knows is done. A manager killed mid-operation carries on
// from the token in status.operation, without sending the PUT again.
//
// # Errors
//
// Every SDK error comes back as a *cloud.Error: 429 and throttling codes give Throttled, 401/403 and
// authorization codes AccessDenied (as do Entra's refusals of the credential), 404 and not-found codes
// NotFound, 5xx and server codes Unavailable, 409 (an operation in progress) and unknown codes of failed
// operations Unknown (retryable), other 4xx InvalidRequest, and transport failures Unreachable. Messages
// are one line: status, ARM code and message.
package azure
