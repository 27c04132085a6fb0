package v1alpha1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition types shared by every kind. Each kind documents the others it sets.
const (
	// ConditionReady is True when the object is fully reconciled and usable. kstatus, Argo CD and Flux read
	// it, and `kubectl wait --for=condition=Ready` waits on it.
	ConditionReady = "Ready"
	// ConditionReconciling is True while the controller is still working towards the desired state (kstatus).
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True when the controller cannot make progress without a change by a person (kstatus).
	ConditionStalled = "Stalled"
)

// Duration is a Go duration string: a sequence of numbers with units ns, us, ms, s, m or h, such as
// "30s", "5m" or "1h30m".
// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
// +kubebuilder:validation:MaxLength=32
type Duration string

// Duration parses the string. The schema pattern guarantees it parses for stored objects; an unparsable
// value (only possible before admission) yields the error.
func (d Duration) Duration() (time.Duration, error) {
	return time.ParseDuration(string(d))
}

// Capacity is the size of a server group in instances.
// +kubebuilder:validation:XValidation:rule="self.min <= self.desired",message="desired must be at least min",fieldPath=".desired"
// +kubebuilder:validation:XValidation:rule="self.desired <= self.max",message="desired must be at most max",fieldPath=".desired"
// +kubebuilder:validation:XValidation:rule="self.min <= self.max",message="min must be at most max",fieldPath=".min"
type Capacity struct {
	// Min is the fewest instances the group may scale in to.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10000
	Min int32 `json:"min"`
	// Max is the most instances the group may scale out to.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10000
	Max int32 `json:"max"`
	// Desired is the number of instances the group runs now.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10000
	Desired int32 `json:"desired"`
}

// Status is the part of every kind's status that follows Kubernetes conventions.
type Status struct {
	// ObservedGeneration is the metadata.generation this status describes. A status whose
	// observedGeneration is behind metadata.generation is stale.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions are the latest observations of the object's state, one per type.
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
}

// Conditioned is implemented by every kind of this package, so that controllers can set conditions and
// the observed generation the same way for all of them.
// +kubebuilder:object:generate=false
type Conditioned interface {
	GetStatus() *Status
	GetGeneration() int64
}
