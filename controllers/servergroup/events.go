package servergroup

import "github.com/gennaker/gennaker/api/v1alpha1"

// The reasons of the Events about a ServerGroup, besides those of failures, which are Ready's reason.
const (
	EventCreated  = "Created"
	EventAdopted  = "Adopted"
	EventResized  = "Resized"
	EventDeleting = "Deleting"
	EventDeleted  = "Deleted"
	// EventOrphaned: the ServerGroup went with deletionPolicy Orphan, and its cloud group stays.
	EventOrphaned = "Orphaned"
	// EventOperationAbandoned: a cloud operation ran past the operation timeout; the group was observed
	// afresh, and whatever still differs from the spec was asked again.
	EventOperationAbandoned = "OperationAbandoned"
	// EventNotOwned: the ServerGroup went without touching a cloud group of its name that is not its own.
	EventNotOwned = v1alpha1.ReasonNotOwned
)

// eventTraffic is the reason of the Event of a traffic change: TrafficEnabled or TrafficDisabled.
func eventTraffic(t v1alpha1.Traffic) string { return "Traffic" + string(t) }

func (r *Reconciler) event(sg *v1alpha1.ServerGroup, typ, reason, action, format string, args ...any) {
	r.Recorder.Eventf(sg, nil, typ, reason, action, format, args...)
}
