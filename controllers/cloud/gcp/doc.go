// Package gcp is the GCP cloud.Provider: a ServerGroup is a Compute Engine managed instance group.
//
// # Accounts
//
// Connect builds the cloud.google.com/go/compute/apiv1 REST clients of a CloudAccount on one
// authorized HTTP client and makes no call. A Secret account's key is a service-account JSON key (its
// token comes from the key's token_uri); a Workload account uses Application Default Credentials (GKE
// workload identity); spec.gcp.impersonateServiceAccount impersonates that service account on top of
// either, through IAM Credentials. The OAuth scope is Compute Engine's only. spec.gcp.endpoint replaces
// https://compute.googleapis.com. Both it and the key's token_uri must be https, or plain http to a
// loopback address (a simulator): Connect refuses anything else, naming the field. Verify reads the project (projects.get) and names the key's
// client_email, the impersonated account, or Application Default Credentials.
//
// Requests that get 429 or a 5xx are retried a few times with exponential backoff (the SDK alone retries
// only reads, and for up to ten minutes); each attempt has a deadline (AttemptTimeout), and one call with
// its retries takes at most MaxCallDuration, inside the deadline of a reconcile.
//
// # Server groups
//
// The managed instance group has the ServerGroup's name; it is zonal when spec.zones has one entry and
// regional otherwise (spread over spec.zones when given); the schema makes spec.zones immutable for a
// gcp server group, as a change would name another group. It is built from spec.gcp.instanceTemplate as
// it is, or, with image and machineType, from an instance template named after the ServerGroup, made
// for it (from spec.gcp.instanceTemplate's properties when one is named, with the image and machine type
// replaced) and deleted with it. Capacity is the group's target size: without an autoscaler a managed
// instance group has no min or max, so the spec's are reported as the cloud's.
//
// # Long-running operations
//
// Every change is a Compute Engine operation. A method starts at most one and returns it (its selfLink
// is the CloudOperation's ID); Operation reads it once per reconcile. So Create is two steps: the
// template's insert, then, once that has ended, the group's. Inserts and deletes carry a requestId
// derived from the ServerGroup's UID, the action and the object: a call repeated after a crash, before
// its operation reached status, gets the same operation back instead of making a second template or
// group. GCP answers a requestId it has seen with that operation however old, so when the answer is an
// operation that has ended and the object is not as it left it (deleted or remade outside Gennaker
// since), or one that failed and was reported, the call is made again with the next requestId of a
// chain, each derived from the one before and the operation it was answered with (at most maxReplays,
// 16, in one call). The chain is stored nowhere, so a restarted manager walks it to the same place: it
// makes no object twice, and reports each failed operation on the chain once more (which ones were
// reported is kept in memory only) before going past it.
//
// # Traffic
//
// A group takes traffic (Enabled) when it is a backend of every spec.gcp.backendServices entry (global
// backend services, by name or URL), and none (Disabled) when it is a backend of none; in between it is
// reported as the opposite of spec.traffic, so that the controller calls SetTraffic again. A backend
// service that no longer exists (404) is one the group is not in: disabling and deleting go on.
// Enabling adds it to the first one that lacks it, disabling removes it from the first one that has it,
// one backend service per call: a read-modify-write of the whole backend service
// (backendServices.update, since the SDK drops an empty backend list from a patch) with the fingerprint
// read, so a change someone else made in between is refused with 412 and not lost; the service is then
// read again and the change made on what is there (up to maxFingerprintRetries, 8, times in one call,
// after a random pause that grows with each). A new backend is balanced like the service's existing
// ones. A group without backend services has no load balancer: its traffic is the spec's. A group is
// taken out of its backend services before it is deleted, as GCP refuses to delete a backend.
//
// # Health
//
// Instances.Running counts the RUNNING instances the group is not deleting. Healthy counts those that
// also have no current action and, when traffic is Enabled and there are backend services, are HEALTHY
// in each one's getHealth.
//
// # Ownership
//
// Managed instance groups and instance templates have no labels, so the owner tags go in their
// description, by their canonical keys ("Made by Gennaker for a ServerGroup. gennaker.io/cluster=...
// gennaker.io/managed-by=gennaker gennaker.io/server-group=ns/name gennaker.io/uid=..."); instances of
// a template made here also carry labels gennaker-managed-by, gennaker-uid and gennaker-cluster (label
// keys allow no "/" or "."). Every write reads the group first and refuses, with NotOwned, one whose
// description does not start with that sentence and name the ServerGroup's UID. Adopt is not supported: a group's description cannot
// be changed, so a group made elsewhere cannot be marked as the ServerGroup's.
//
// # Errors
//
// SDK errors come back as *cloud.Error classified by HTTP status and reason: 429 (rateLimitExceeded)
// Throttled, 401/403 AccessDenied, 404 NotFound, 412 (a stale fingerprint) and resourceInUse or
// resourceNotReady retryable Unknown, other 4xx InvalidRequest, 5xx Unavailable, transport failures
// Unreachable, a refused token AccessDenied. A failed operation's error is classified by its codes
// (ZONE_RESOURCE_POOL_EXHAUSTED Unavailable, QUOTA_EXCEEDED InvalidRequest) and HTTP status.
package gcp
