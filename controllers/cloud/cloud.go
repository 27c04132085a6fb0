// Package cloud is what the CloudAccount and ServerGroup reconcilers know of a cloud: a Provider turns an
// account into a Client, and a Client observes, creates, adopts, resizes, moves traffic for and deletes a
// server group (Crossplane's external client, cut to what a server group needs). One package per cloud
// under controllers/cloud implements it; nothing else calls a cloud SDK. The ownership rules every Client
// follows are in ownership.go.
package cloud

import (
	"context"

	"github.com/gennaker/gennaker/api/v1alpha1"
)

// Provider builds Clients for one cloud.
type Provider interface {
	// Connect builds a client for the account. It makes no call to the cloud: Verify does. creds is empty
	// for a Workload account, whose client uses the SDK's default chain.
	Connect(ctx context.Context, account *v1alpha1.CloudAccount, creds Credentials) (Client, error)
}

// Client acts on one account's server groups. Every method is safe to call again after a crash: Create
// of a group that exists, Delete of one that is gone and SetTraffic to the current state succeed.
//
// A server group is found by the ServerGroup's name, and is the ServerGroup's only when its owner tags say
// so (Check): Create tags what it makes with Tags, and Adopt, UpdateCapacity, SetTraffic and Delete refuse
// a group that is not the ServerGroup's with a NotOwned error before any write, whatever the caller
// checked before. Every call returns within the deadline of ctx.
//
// A cloud whose changes are long-running operations (GCP, Azure) never waits for one: the method that
// starts it returns it, the caller keeps it in the ServerGroup's status, and asks Operation about it on
// its next reconcile, before anything else, until it has ended. A method that started nothing returns a
// nil operation; AWS never starts one.
type Client interface {
	// Verify makes one cheap authenticated call and says who the account acts as (an ARN, an e-mail).
	Verify(ctx context.Context) (identity string, err error)
	// Observe looks the server group up by its name. A group that does not exist is an Observation with
	// Exists false, not an error; one that exists is observed whoever owns it, so that the caller can see
	// whose it is (Observation.Owner).
	Observe(ctx context.Context, sg *v1alpha1.ServerGroup) (Observation, error)
	// Create makes the server group with the spec's capacity and traffic, tagged as the ServerGroup's.
	Create(ctx context.Context, sg *v1alpha1.ServerGroup) (*v1alpha1.CloudOperation, error)
	// Adopt rewrites the owner tags of an existing group to the ServerGroup's, when Claim allows it; a
	// group that is the ServerGroup's already is left as it is.
	Adopt(ctx context.Context, sg *v1alpha1.ServerGroup) (*v1alpha1.CloudOperation, error)
	// UpdateCapacity sets the group's min, max and desired capacity to c.
	UpdateCapacity(ctx context.Context, sg *v1alpha1.ServerGroup, c v1alpha1.Capacity) (*v1alpha1.CloudOperation, error)
	// SetTraffic puts the group in its load balancers (Enabled) or takes it out (Disabled).
	SetTraffic(ctx context.Context, sg *v1alpha1.ServerGroup, t v1alpha1.Traffic) (*v1alpha1.CloudOperation, error)
	// Delete starts or continues deleting the group, its instances and anything Create made for it (a
	// launch template); it says gone once nothing is left. The finalizer is removed only then.
	Delete(ctx context.Context, sg *v1alpha1.ServerGroup) (gone bool, op *v1alpha1.CloudOperation, err error)
	// Operation checks, with one call, an operation one of the methods above returned: done once the cloud
	// says it ended, with the cloud's error (a classified *Error) when it failed; not done, with an error,
	// when it could not be checked. An operation the cloud no longer knows is done, so that the caller
	// observes the group afresh.
	Operation(ctx context.Context, sg *v1alpha1.ServerGroup, op v1alpha1.CloudOperation) (done bool, err error)
}

// Observation is a server group as the cloud reports it.
type Observation struct {
	// Exists is false when the cloud has no group of this name.
	Exists bool
	// Deleting is true while the cloud deletes the group.
	Deleting bool
	// Owner is who the group's owner tags name.
	Owner Owner
	// ProviderID is the cloud's ID of the group (an ARN, a selfLink, a resource ID).
	ProviderID string
	// Capacity is the group's min, max and desired size.
	Capacity v1alpha1.Capacity
	// Instances counts the group's instances; Healthy counts those passing the load balancer's health
	// checks when traffic is Enabled, and the cloud's own instance health otherwise.
	Instances v1alpha1.Instances
	// Traffic is Enabled when the group is in all of its load balancers and takes new instances into them.
	Traffic v1alpha1.Traffic
	// Unhealthy names a few instances that are not healthy and why, for the Healthy condition's message.
	Unhealthy string
	// Status is the cloud's own part of the ServerGroup's status, such as the launch template version an
	// Auto Scaling group launches from. Create reads it from the ServerGroup's status, so that a group
	// made again uses what the first one did.
	Status v1alpha1.CloudServerGroupStatus
}
