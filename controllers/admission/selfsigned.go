package admission

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// The webhook configurations' names, as config/default names those of config/webhook.
const (
	MutatingConfigurationName   = "gennaker-mutating-webhook-configuration"
	ValidatingConfigurationName = "gennaker-validating-webhook-configuration"
)

// hook is one webhook of the configurations: the same as the +kubebuilder:webhook markers say (a test
// holds the two together), for the self-signed mode, which writes the configurations itself.
type hook struct {
	name, path, resource string
	mutating             bool
	failure              admissionregistrationv1.FailurePolicyType
	conditions           []admissionregistrationv1.MatchCondition
}

// notBeingDeleted leaves an update of a run already being deleted to the API server alone: its finalizer
// can then be removed while the webhooks cannot be reached (an uninstalled operator), so no deletion waits
// on them forever. It looks at the stored object, not the request's: a create that sends a
// deletionTimestamp of its own (cleared only after mutating admission) must not skip the stamps.
var notBeingDeleted = []admissionregistrationv1.MatchCondition{{Name: "not-being-deleted",
	Expression: "request.operation != 'UPDATE' || !has(oldObject.metadata.deletionTimestamp)"}}

// mutateExecution is the webhook that stamps runs; the validating one names it when its stamps are missing.
const mutateExecution = "mexecution.delivery.gennaker.io"

var hooks = []hook{
	{name: mutateExecution, path: PathMutateExecution, resource: "executions", mutating: true, failure: admissionregistrationv1.Fail, conditions: notBeingDeleted},
	{name: "vexecution.delivery.gennaker.io", path: PathValidateExecution, resource: "executions", failure: admissionregistrationv1.Fail, conditions: notBeingDeleted},
	{name: "vpipeline.delivery.gennaker.io", path: PathValidatePipeline, resource: "pipelines", failure: admissionregistrationv1.Ignore},
	{name: "vservergroup.delivery.gennaker.io", path: PathValidateServerGroup, resource: "servergroups", failure: admissionregistrationv1.Ignore},
}

// SelfSigned makes a CA and a serving certificate for 127.0.0.1 and localhost, valid for a year, and writes
// the certificate and key into dir as tls.crt and tls.key (controller-runtime's webhook server reads them
// there). It returns the CA certificate (PEM), the caBundle of the webhook configurations. This is for an
// API server on the same machine (make dev, the tests); in a cluster, cert-manager issues the certificate.
func SelfSigned(dir string) (caBundle []byte, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "gennaker-webhook-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(1, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	if ca, err = x509.ParseCertificate(caDER); err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	leaf := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     []string{"localhost"},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	for name, block := range map[string]*pem.Block{
		"tls.crt": {Type: "CERTIFICATE", Bytes: leafDER},
		"tls.key": {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := writePrivate(dir, name, pem.EncodeToMemory(block)); err != nil {
			return nil, err
		}
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), nil
}

// writePrivate replaces dir/name with data, readable by the owner only: written to a new file (CreateTemp
// makes it 0600) and renamed over, since os.WriteFile keeps the mode of a file that exists, say a tls.key
// left world-readable in a --webhook-cert-dir.
func writePrivate(dir, name string, data []byte) error {
	f, err := os.CreateTemp(dir, "."+name+"-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // once renamed, there is nothing left to remove
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), filepath.Join(dir, name))
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail on the platforms Go supports
	}
	return n
}

// Configurations are the webhook configurations that send the API server's admission requests to
// baseURL (https://127.0.0.1:9443), trusting caBundle.
func Configurations(baseURL string, caBundle []byte) (*admissionregistrationv1.MutatingWebhookConfiguration, *admissionregistrationv1.ValidatingWebhookConfiguration) {
	m := &admissionregistrationv1.MutatingWebhookConfiguration{}
	m.Name = MutatingConfigurationName
	v := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	v.Name = ValidatingConfigurationName
	for _, h := range hooks {
		cc := admissionregistrationv1.WebhookClientConfig{URL: ptr.To(baseURL + h.path), CABundle: caBundle}
		rules := []admissionregistrationv1.RuleWithOperations{{
			Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
			Rule: admissionregistrationv1.Rule{
				APIGroups: []string{"delivery.gennaker.io"}, APIVersions: []string{"v1alpha1"}, Resources: []string{h.resource},
			},
		}}
		sideEffects := admissionregistrationv1.SideEffectClassNone
		if h.mutating {
			m.Webhooks = append(m.Webhooks, admissionregistrationv1.MutatingWebhook{
				Name: h.name, ClientConfig: cc, Rules: rules, FailurePolicy: ptr.To(h.failure), SideEffects: &sideEffects,
				AdmissionReviewVersions: []string{"v1"}, TimeoutSeconds: ptr.To[int32](10), MatchConditions: h.conditions,
			})
			continue
		}
		v.Webhooks = append(v.Webhooks, admissionregistrationv1.ValidatingWebhook{
			Name: h.name, ClientConfig: cc, Rules: rules, FailurePolicy: ptr.To(h.failure), SideEffects: &sideEffects,
			AdmissionReviewVersions: []string{"v1"}, TimeoutSeconds: ptr.To[int32](10), MatchConditions: h.conditions,
		})
	}
	return m, v
}

// The manager writes the webhook configurations only with --webhook-self-signed; in a cluster, kustomize
// installs them and cert-manager injects the CA. These verbs are granted by
// config/selfsigned, which only make dev applies: a manager in a cluster does not need them.

// certManagerInject is the annotation by which cert-manager's cainjector fills a configuration's caBundle:
// config/default sets it on the configurations it installs.
const certManagerInject = "cert-manager.io/inject-ca-from"

// CheckInstallable refuses to go on when the webhook configurations already installed are those of a
// cluster's config/default, which cert-manager keeps: the self-signed mode would point them at
// 127.0.0.1, and every Execution write in the cluster would then fail.
func CheckInstallable(ctx context.Context, c client.Reader) error {
	for name, obj := range map[string]client.Object{
		MutatingConfigurationName:   &admissionregistrationv1.MutatingWebhookConfiguration{},
		ValidatingConfigurationName: &admissionregistrationv1.ValidatingWebhookConfiguration{},
	} {
		err := c.Get(ctx, client.ObjectKey{Name: name}, obj)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		if from, ok := obj.GetAnnotations()[certManagerInject]; ok {
			return fmt.Errorf("%s is cert-manager's (annotation %s: %s), installed with config/default: --webhook-self-signed would point it at 127.0.0.1; run without --webhook-self-signed there, or delete the configuration first", name, certManagerInject, from)
		}
	}
	return nil
}

// Install creates or updates the webhook configurations that reach baseURL with caBundle, unless
// CheckInstallable refuses. c must not be a cached client that watches webhook configurations it has no
// list permission for: use an uncached one.
func Install(ctx context.Context, c client.Client, baseURL string, caBundle []byte) error {
	if err := CheckInstallable(ctx, c); err != nil {
		return err
	}
	m, v := Configurations(baseURL, caBundle)
	mutating := &admissionregistrationv1.MutatingWebhookConfiguration{}
	mutating.Name = m.Name
	if _, err := controllerutil.CreateOrUpdate(ctx, c, mutating, func() error {
		mutating.Webhooks = m.Webhooks
		return nil
	}); err != nil {
		return fmt.Errorf("installing %s: %w", m.Name, err)
	}
	validating := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	validating.Name = v.Name
	if _, err := controllerutil.CreateOrUpdate(ctx, c, validating, func() error {
		validating.Webhooks = v.Webhooks
		return nil
	}); err != nil {
		return fmt.Errorf("installing %s: %w", v.Name, err)
	}
	return nil
}

// WhoAmI asks the API server which user c reaches it as (a SelfSubjectReview): the operator's user name
// in Options.Operator.
func WhoAmI(ctx context.Context, c client.Client) (string, error) {
	r := &authenticationv1.SelfSubjectReview{}
	if err := c.Create(ctx, r); err != nil {
		return "", fmt.Errorf("asking the API server who the operator is: %w", err)
	}
	return r.Status.UserInfo.Username, nil
}
