package controllers_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/gennaker/gennaker/controllers"
	"github.com/gennaker/gennaker/test/testenv"
)

// The manager's cache holds no byte of a Secret: not its data, not its annotations (kubectl's client-side
// apply keeps the whole Secret, data included, in last-applied-configuration), not its managedFields,
// whether the Secret is read as metadata (as the operator does, to notice a rotated key) or typed.
func TestManagerCacheHoldsNoSecretData(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := env.Namespace(t)
	manifest := filepath.Join(t.TempDir(), "secret.yaml")
	g.Expect(os.WriteFile(manifest, []byte(`apiVersion: v1
kind: Secret
metadata:
  name: aws-credentials
  namespace: `+ns+`
  labels: {team: shop}
stringData:
  credentials: |
    aws_access_key_id = `+accessKeyID+`
    aws_secret_access_key = `+secretKey+`
`), 0o600)).To(Succeed())
	out, err := env.Kubectl("apply", "-f", manifest)
	g.Expect(err).NotTo(HaveOccurred(), out)
	key := client.ObjectKey{Namespace: ns, Name: "aws-credentials"}
	var stored corev1.Secret
	g.Expect(env.Client.Get(context.Background(), key, &stored)).To(Succeed())
	g.Expect(stored.Annotations[corev1.LastAppliedConfigAnnotation]).To(ContainSubstring(secretKey), "the API server keeps the data in the annotation")
	g.Expect(stored.ManagedFields).NotTo(BeEmpty())

	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:  testenv.Scheme,
		Cache:   controllers.CacheOptions(),
		Metrics: metricsserver.Options{BindAddress: "0"},
	})
	g.Expect(err).NotTo(HaveOccurred())
	testenv.Run(t, mgr)
	cache := mgr.GetCache()

	meta := &metav1.PartialObjectMetadata{}
	meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	g.Eventually(func() error { return cache.Get(context.Background(), key, meta) }).Should(Succeed())
	g.Expect(meta.Labels).To(Equal(map[string]string{"team": "shop"}), "what identifies it stays")
	g.Expect(meta.ResourceVersion).To(Equal(stored.ResourceVersion))
	g.Expect(meta.Annotations).To(BeEmpty())
	g.Expect(meta.ManagedFields).To(BeEmpty())

	var typed corev1.Secret
	g.Eventually(func() error { return cache.Get(context.Background(), key, &typed) }).Should(Succeed())
	g.Expect(typed.Data).To(BeEmpty())
	g.Expect(typed.StringData).To(BeEmpty())
	g.Expect(typed.Annotations).To(BeEmpty())
	g.Expect(typed.ManagedFields).To(BeEmpty())
	g.Expect(typed.Labels).To(Equal(map[string]string{"team": "shop"}))

	// Other kinds keep their annotations, without managedFields.
	var namespace corev1.Namespace
	g.Eventually(func() error { return cache.Get(context.Background(), client.ObjectKey{Name: ns}, &namespace) }).Should(Succeed())
	g.Expect(namespace.ManagedFields).To(BeEmpty())
}
