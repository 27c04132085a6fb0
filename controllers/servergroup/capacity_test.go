package servergroup

import (
	"testing"

	"github.com/gennaker/gennaker/api/v1alpha1"
)

func TestCapacityToSet(t *testing.T) {
	spec := v1alpha1.Capacity{Min: 2, Max: 10, Desired: 3}
	cases := map[string]struct {
		reason  string
		applied *v1alpha1.Capacity
		cloud   v1alpha1.Capacity
		drift   v1alpha1.DesiredDrift
		want    v1alpha1.Capacity
		set     bool
	}{
		"converged":                  {"nothing to do", &spec, spec, v1alpha1.DriftTolerate, spec, false},
		"scaled out, tolerated":      {"a scaling policy's figure stays", &spec, cap3(2, 10, 7), v1alpha1.DriftTolerate, cap3(2, 10, 7), false},
		"scaled out, default":        {"Tolerate is the default", &spec, cap3(2, 10, 7), "", cap3(2, 10, 7), false},
		"scaled out, corrected":      {"Correct sets it back", &spec, cap3(2, 10, 7), v1alpha1.DriftCorrect, spec, true},
		"max changed in the cloud":   {"min and max are always set back, desired dragged within", &spec, cap3(2, 6, 6), v1alpha1.DriftTolerate, cap3(2, 10, 6), true},
		"min raised in the cloud":    {"a desired under the spec's min is raised to it", &spec, cap3(1, 10, 1), v1alpha1.DriftTolerate, cap3(2, 10, 2), true},
		"spec changed":               {"a new spec is applied whole", &v1alpha1.Capacity{Min: 2, Max: 10, Desired: 5}, cap3(2, 10, 7), v1alpha1.DriftTolerate, spec, true},
		"spec changed, cloud has it": {"no call needed", &v1alpha1.Capacity{Min: 0, Max: 1, Desired: 1}, spec, v1alpha1.DriftTolerate, spec, false},
		"upgrade, bounds match":      {"made before appliedCapacity: not reset", nil, cap3(2, 10, 7), v1alpha1.DriftTolerate, cap3(2, 10, 7), false},
		"upgrade, bounds differ":     {"made before appliedCapacity, bounds moved: the spec is applied", nil, cap3(0, 10, 7), v1alpha1.DriftTolerate, spec, true},
		"upgrade, corrected":         {"Correct as it says", nil, cap3(2, 10, 7), v1alpha1.DriftCorrect, spec, true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			want, set := capacityToSet(spec, c.applied, c.cloud, c.drift)
			if want != c.want || set != c.set {
				t.Errorf("got %+v, %v; want %+v, %v (%s)", want, set, c.want, c.set, c.reason)
			}
		})
	}
}

func cap3(minSize, maxSize, desired int32) v1alpha1.Capacity {
	return v1alpha1.Capacity{Min: minSize, Max: maxSize, Desired: desired}
}
