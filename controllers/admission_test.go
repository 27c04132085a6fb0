package controllers_test

import (
	"context"
	"encoding/json"
	"testing"

	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/admission"
	"github.com/gennaker/gennaker/test/testenv"
)

// TestPipelineRefusedAtApply: what the Pipeline controller reports as Ready=False is refused at apply
// time, with the field named. No manager runs: the webhook alone refuses.
func TestPipelineRefusedAtApply(t *testing.T) {
	ns := env.Namespace(t)
	decode := serializer.NewCodecFactory(testenv.Scheme).UniversalDeserializer().Decode
	for name, tc := range map[string]struct {
		spec string
		want string
	}{
		"a cycle, named": {
			spec: `stages:
  - {name: build, dependsOn: [verify], wait: {duration: 0s}}
  - {name: deploy, dependsOn: [build], wait: {duration: 0s}}
  - {name: verify, dependsOn: [deploy], wait: {duration: 0s}}`,
			want: `spec.stages[0].dependsOn: Invalid value: ["verify"]: stages depend on each other in a cycle: build -> verify -> deploy -> build`,
		},
		"a CEL expression that does not compile": {
			spec: `stages: [{name: a, when: "paramters.env == 'prod'", wait: {duration: 0s}}]`,
			want: `spec.stages[0].when: Invalid value: "paramters.env == 'prod'": ERROR: <input>:1:1: undeclared reference to 'paramters'`,
		},
		"a template that does not compile": {
			spec: `stages: [{name: a, webhook: {url: "http://127.0.0.1:1/${ nope }"}}]`,
			want: `spec.stages[0].webhook.url: Invalid value:`,
		},
		"a bad cron schedule": {
			spec: `triggers: [{cron: {schedule: "0 0 9 * * *"}}]
  stages: [{name: a, wait: {duration: 0s}}]`,
			want: `spec.triggers[0].cron.schedule: Invalid value: "0 0 9 * * *": must be a cron schedule`,
		},
		"an unknown time zone": {
			spec: `triggers: [{cron: {schedule: "@daily", timeZone: Europe/Atlantis}}]
  stages: [{name: a, wait: {duration: 0s}}]`,
			want: `spec.triggers[0].cron.timeZone: Invalid value: "Europe/Atlantis": must be an IANA time zone name such as Europe/Paris`,
		},
		"an undeclared parameter": {
			spec: `parameters: [{name: env}]
  stages: [{name: a, when: "parameters['foo'] != ''", wait: {duration: 0s}}]`,
			want: `spec.stages[0].when: Invalid value: "parameters['foo'] != ''": references undeclared parameter "foo"`,
		},
		"a pipeline stage that runs its own pipeline": {
			spec: `stages: [{name: again, pipeline: {name: refused}}]`,
			want: `spec.stages: Invalid value: a pipeline stage cannot run its own pipeline`,
		},
	} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			obj, _, err := decode([]byte("apiVersion: delivery.gennaker.io/v1alpha1\nkind: Pipeline\nmetadata: {name: refused}\nspec:\n  application: shop\n  "+tc.spec+"\n"), nil, nil)
			g.Expect(err).NotTo(HaveOccurred())
			pl := obj.(*v1alpha1.Pipeline)
			pl.Namespace = ns
			err = env.Client.Create(context.Background(), pl)
			g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
			g.Expect(err.Error()).To(ContainSubstring(tc.want))
		})
	}
	// An update is checked as a create is; the same spec fixed is accepted.
	g := NewWithT(t)
	pl := &v1alpha1.Pipeline{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "fixed"},
		Spec:       v1alpha1.PipelineSpec{Application: "shop", Stages: []v1alpha1.Stage{waitStage("a"), waitStage("b", "a")}},
	}
	g.Expect(env.Client.Create(context.Background(), pl)).To(Succeed())
	pl.Spec.Stages[0].DependsOn = []string{"b"}
	err := env.Client.Update(context.Background(), pl)
	g.Expect(err).To(HaveOccurred())
	g.Expect(err.Error()).To(ContainSubstring("cycle: a -> b -> a"))
}

// TestServerGroupRefusedAtApply: a ServerGroup whose CloudAccount does not list its namespace is refused
// with the field named; one whose account does not exist yet is let through for the controller to report.
func TestServerGroupRefusedAtApply(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	acct := &v1alpha1.CloudAccount{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-elsewhere"},
		Spec: v1alpha1.CloudAccountSpec{
			Provider:          v1alpha1.ProviderAWS,
			Credentials:       v1alpha1.Credentials{Source: v1alpha1.CredentialSourceWorkload},
			AWS:               &v1alpha1.AWSAccount{Regions: []string{"us-east-1"}},
			AllowedNamespaces: []string{"payments"},
		},
	}
	g.Expect(env.Client.Create(ctx, acct)).To(Succeed())
	t.Cleanup(func() { _ = env.Client.Delete(ctx, acct) })
	group := func(name, account string) *v1alpha1.ServerGroup {
		return &v1alpha1.ServerGroup{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: v1alpha1.ServerGroupSpec{
				Application: "shop", Account: account, Region: "us-east-1",
				Capacity:         v1alpha1.Capacity{Min: 1, Max: 3, Desired: 2},
				CloudServerGroup: v1alpha1.CloudServerGroup{AWS: &v1alpha1.AWSServerGroup{ImageID: "ami-0abc"}},
			},
		}
	}
	err := env.Client.Create(ctx, group("shop-v000", acct.Name))
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
	g.Expect(err.Error()).To(ContainSubstring("spec.account: Forbidden: namespace " + ns + " is not in the allowedNamespaces of CloudAccount " + acct.Name))
	g.Expect(env.Client.Create(ctx, group("shop-v001", ns+"-missing"))).To(Succeed())
}

// TestSelfSignedRefusesCertManagerConfigurations: a manager started with --webhook-self-signed against a
// cluster installed with config/default (its configurations carry cert-manager's inject annotation)
// refuses, rather than point every Execution write of the cluster at 127.0.0.1. The package's own
// configurations stand in for the cluster's, annotated for the test and unchanged by it.
func TestSelfSignedRefusesCertManagerConfigurations(t *testing.T) {
	g := testenv.NewWithT(t)
	ctx := context.Background()
	key := client.ObjectKey{Name: admission.ValidatingConfigurationName}
	var before admissionregistrationv1.ValidatingWebhookConfiguration
	g.Expect(env.Client.Get(ctx, key, &before)).To(Succeed())
	annotate := func(v *string) {
		body, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]any{"cert-manager.io/inject-ca-from": v}}})
		g.Expect(env.Client.Patch(ctx, &before, client.RawPatch(types.MergePatchType, body))).To(Succeed())
	}
	annotate(ptr.To("gennaker-system/gennaker-serving-cert"))
	t.Cleanup(func() { annotate(nil) })

	err := admission.Install(ctx, env.Client, "https://127.0.0.1:1", []byte("CA"))
	g.Expect(err).To(MatchError(ContainSubstring(admission.ValidatingConfigurationName + " is cert-manager's (annotation cert-manager.io/inject-ca-from: gennaker-system/gennaker-serving-cert)")))
	var after admissionregistrationv1.ValidatingWebhookConfiguration
	g.Expect(env.Client.Get(ctx, key, &after)).To(Succeed())
	g.Expect(after.Webhooks).To(Equal(before.Webhooks))
	var m admissionregistrationv1.MutatingWebhookConfiguration
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: admission.MutatingConfigurationName}, &m)).To(Succeed())
	g.Expect(*m.Webhooks[0].ClientConfig.URL).NotTo(HavePrefix("https://127.0.0.1:1/"))
}
