package engine

import (
	"encoding/json"

	"github.com/gennaker/gennaker/api/v1alpha1"
)

// TriggerVars is what expressions of a run see as trigger: its type, the trigger's own facts (from the
// annotations the operator set, which admission keeps anyone else from setting) and the run's artifacts.
// A run started by hand has type manual and the artifacts its spec names.
func TriggerVars(ex *v1alpha1.Execution) map[string]any {
	ann := ex.GetAnnotations()
	trigger := map[string]any{"type": v1alpha1.TriggerManual}
	if t := ann[v1alpha1.AnnotationTrigger]; t != "" {
		trigger["type"] = t
	}
	for key, a := range map[string]string{
		"scheduledTime":   v1alpha1.AnnotationScheduledTime,
		"parentExecution": v1alpha1.AnnotationParentExecution,
		"parentStage":     v1alpha1.AnnotationParentStage,
		"name":            v1alpha1.AnnotationTriggerName,
		"deliveryID":      v1alpha1.AnnotationDeliveryID,
	} {
		if v := ann[a]; v != "" {
			trigger[key] = v
		}
	}
	if raw := ann[v1alpha1.AnnotationParentOutputs]; raw != "" {
		var outputs map[string]any
		if json.Unmarshal([]byte(raw), &outputs) == nil {
			trigger["outputs"] = outputs
		}
	}
	artifacts := make([]any, len(ex.Spec.Artifacts))
	for i, a := range ex.Spec.Artifacts {
		artifacts[i] = ArtifactVars(a)
	}
	trigger["artifacts"] = artifacts
	if len(artifacts) > 0 {
		trigger["artifact"] = artifacts[0]
	}
	return trigger
}

// ArtifactVars is an artifact as expressions see it: every field present, empty if unset, so that
// trigger.artifact.digest of an artifact without one is "" rather than an error.
func ArtifactVars(a v1alpha1.Artifact) map[string]any {
	return map[string]any{
		"type":       string(a.Type),
		"reference":  a.Reference,
		"repository": a.Repository,
		"version":    a.Version,
		"digest":     a.Digest,
	}
}
