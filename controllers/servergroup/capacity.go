package servergroup

import "github.com/gennaker/gennaker/api/v1alpha1"

// capacityToSet returns the capacity to set in the cloud and whether it differs from the cloud's, given
// the spec's capacity, the one last applied (status.appliedCapacity) and the cloud's.
//
// The spec's capacity is applied whole when it differs from the one last applied: when the group is made
// and whenever the spec changes. In between, min and max are always set back, and a desired capacity
// changed in the cloud (a scaling policy, a person) is left alone within them under DriftTolerate, and set
// back under DriftCorrect. A group made before the operator recorded what it applied (applied nil) counts
// as applied when its min and max are the spec's, so that an upgrade does not reset a scaled group.
func capacityToSet(spec v1alpha1.Capacity, applied *v1alpha1.Capacity, cloud v1alpha1.Capacity, drift v1alpha1.DesiredDrift) (v1alpha1.Capacity, bool) {
	if applied == nil && cloud.Min == spec.Min && cloud.Max == spec.Max {
		applied = &spec
	}
	if applied == nil || *applied != spec {
		return spec, spec != cloud
	}
	want := spec
	if drift != v1alpha1.DriftCorrect {
		want.Desired = min(max(cloud.Desired, spec.Min), spec.Max)
	}
	return want, want != cloud
}
