// Package v1alpha1 holds the Gennaker API: CloudAccount, ServerGroup, Pipeline and Execution in the
// delivery.gennaker.io group. Field names are a contract with manifests, docs and tests (../shared/DESIGN.md).
//
// Validation is layered. What the schema can say (enums, patterns, bounds, CEL cross-field rules) is said
// here with markers, so that `kubectl apply` rejects bad input with a message naming the field. What it
// cannot say (a cycle in dependsOn, a CEL expression that does not compile, a bad cron spec) is checked by
// the Go functions in *_validation.go, which the Pipeline controller and the admission webhook share.
//
// +kubebuilder:object:generate=true
// +groupName=delivery.gennaker.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of every kind in this package.
	GroupVersion = schema.GroupVersion{Group: "delivery.gennaker.io", Version: "v1alpha1"}

	// SchemeBuilder registers the kinds of this package with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the kinds of this package to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
