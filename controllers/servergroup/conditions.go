package servergroup

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
	"github.com/gennaker/gennaker/controllers/status"
)

// Healthy's reasons.
const (
	reasonAllHealthy = "AllHealthy"
	reasonNotHealthy = "NotAllHealthy"
)

func boolCondition(b bool) metav1.ConditionStatus {
	if b {
		return metav1.ConditionTrue
	}
	return metav1.ConditionFalse
}

func healthReason(healthy bool) string {
	if healthy {
		return reasonAllHealthy
	}
	return reasonNotHealthy
}

// healthMessage says how many of the cloud's desired instances are healthy, and names some that are not.
func healthMessage(obs cloud.Observation) string {
	if !obs.Exists {
		return "the cloud server group does not exist yet"
	}
	msg := fmt.Sprintf("%d/%d healthy, %d running", obs.Instances.Healthy, obs.Instances.Desired, obs.Instances.Running)
	if obs.Unhealthy != "" {
		msg += "; " + obs.Unhealthy
	}
	return msg
}

func trafficMessage(sg *v1alpha1.ServerGroup, obs cloud.Observation) string {
	switch {
	case !obs.Exists:
		return "the cloud server group does not exist yet"
	case obs.Traffic == v1alpha1.TrafficEnabled:
		return "in its load balancers"
	case sg.Spec.Traffic == v1alpha1.TrafficEnabled:
		return "not in its load balancers yet"
	default:
		return "out of its load balancers"
	}
}

func orDisabled(t v1alpha1.Traffic) v1alpha1.Traffic {
	if t == "" {
		return v1alpha1.TrafficDisabled
	}
	return t
}

func capacity(c v1alpha1.Capacity) string {
	return fmt.Sprintf("min %d, desired %d, max %d", c.Min, c.Desired, c.Max)
}

func join(doing []string) string { return strings.Join(doing, "; ") }

// setRollout sets Reconciling and Stalled for a group the controller has nothing more to ask of: still a
// rollout (kstatus InProgress) until the cloud's instances are all healthy, as a Deployment is until its
// replicas are available.
func setRollout(s *v1alpha1.ServerGroup, healthy bool, obs cloud.Observation) {
	if !healthy {
		status.SetProgress(s, status.Working, reasonNotHealthy, healthMessage(obs))
		return
	}
	status.SetProgress(s, status.Settled, v1alpha1.ReasonAvailable, "")
}

// progressOf is the progress of a group that cannot converge: stuck when only a person can help.
func progressOf(needsPerson bool) status.Progress {
	if needsPerson {
		return status.Stuck
	}
	return status.Working
}
