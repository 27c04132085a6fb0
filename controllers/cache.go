package controllers

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
)

// CacheOptions are the manager's cache settings; cmd/manager and the tests both use them, so the tests run
// with the cache that ships.
//
// No object keeps its managedFields in the cache: no controller reads them, and they are often the larger
// part of a small object. A Secret keeps only what identifies it: the operator watches Secrets' metadata to
// notice a rotated key at once, and its annotations can hold the Secret's data (kubectl apply's
// last-applied-configuration does), so they are dropped too, with any data a typed read would bring.
// Credentials are read past the cache, from the API server, only when an account's Secret changed.
//
// A finished Execution keeps everything but its frozen pipeline spec (see LeanExecution), which is most of
// a run's size and which nothing reads once the run is over, so that a long history costs little memory.
func CacheOptions() cache.Options {
	return cache.Options{
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}:      {Transform: StripSecret},
			&v1alpha1.Execution{}: {Transform: LeanExecution},
		},
	}
}

// LeanExecution is the cache transform of Executions. It drops managedFields and kubectl's
// last-applied-configuration (a copy of the spec) of every run, and the frozen pipeline spec
// (status.pipelineSpec) of a finished one (Succeeded, Failed, Canceled): the engine reads the frozen spec
// only while a run runs, and what reads finished runs from the cache (history pruning, lastRun, pipeline
// triggers, which read the stages' outputs, a late edit's observedGeneration) does not read it. Every
// write of an Execution is a merge patch of what a reconcile changed, so a field missing from the cache is
// never written away; the API server keeps it for kubectl, the plugin and the console.
func LeanExecution(in any) (any, error) {
	ex, ok := in.(*v1alpha1.Execution)
	if !ok {
		return cache.TransformStripManagedFields()(in)
	}
	ex.ManagedFields = nil
	delete(ex.Annotations, corev1.LastAppliedConfigAnnotation)
	switch ex.Status.Phase {
	case v1alpha1.ExecutionSucceeded, v1alpha1.ExecutionFailed, v1alpha1.ExecutionCanceled:
		ex.Status.PipelineSpec = nil
	}
	return ex, nil
}

// StripSecret is the cache transform of Secrets, typed or metadata-only: it keeps the name, namespace,
// labels, UID, resourceVersion and the like, and drops annotations, managedFields and every byte of data.
func StripSecret(in any) (any, error) {
	if obj, err := meta.Accessor(in); err == nil {
		obj.SetAnnotations(nil)
		obj.SetManagedFields(nil)
	}
	switch s := in.(type) {
	case *corev1.Secret:
		s.Data, s.StringData = nil, nil
	case *metav1.PartialObjectMetadata:
	}
	return in, nil
}

var (
	_ toolscache.TransformFunc = StripSecret
	_ toolscache.TransformFunc = LeanExecution
)
