package controllers

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// CacheOptions are the manager's cache settings; cmd/manager and the tests both use them, so the tests run
// with the cache that ships.
//
// No object keeps its managedFields in the cache: no controller reads them, and they are often the larger
// part of a small object. A Secret keeps only what identifies it: the operator watches Secrets' metadata to
// notice a rotated key at once, and its annotations can hold the Secret's data (kubectl apply's
// last-applied-configuration does), so they are dropped too, with any data a typed read would bring.
// Credentials are read past the cache, from the API server, only when an account's Secret changed.
func CacheOptions() cache.Options {
	return cache.Options{
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {Transform: StripSecret},
		},
	}
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

var _ toolscache.TransformFunc = StripSecret
