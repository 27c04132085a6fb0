package controllers_test

import (
	"context"
	"net/http/httptest"
	"testing"

	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/test/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

// ready returns the object's Ready condition once the controller has observed its current generation.
func ready(g Gomega, obj v1alpha1.Conditioned, get func() error) *metav1.Condition {
	g.Expect(get()).To(Succeed())
	g.Expect(obj.GetStatus().ObservedGeneration).To(Equal(obj.GetGeneration()), "status not yet observed")
	c := meta.FindStatusCondition(obj.GetStatus().Conditions, v1alpha1.ConditionReady)
	g.Expect(c).NotTo(BeNil(), "no Ready condition")
	g.Expect(c.ObservedGeneration).To(Equal(obj.GetGeneration()))
	return c
}

// TestEveryKindGetsReadyCondition runs the manager and checks that each kind is observed: its status has
// the current observedGeneration and a Ready condition that says what is wrong, here an account whose
// Secret is missing, a group in a namespace the account does not allow, a run without a pipeline.
func TestEveryKindGetsReadyCondition(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := setup(t)
	ctx := context.Background()

	closed := httptest.NewServer(nil)
	closed.Close()
	acct := &v1alpha1.CloudAccount{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-aws"},
		Spec: v1alpha1.CloudAccountSpec{
			Provider: v1alpha1.ProviderAWS,
			Credentials: v1alpha1.Credentials{Source: v1alpha1.CredentialSourceSecret,
				SecretRef: &v1alpha1.SecretKeyRef{Namespace: ns, Name: "aws", Key: "credentials"}},
			AWS: &v1alpha1.AWSAccount{Regions: []string{"us-east-1"}, Endpoint: v1alpha1.Endpoint(closed.URL)},
		},
	}
	sg := &v1alpha1.ServerGroup{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shop-main-v000"},
		Spec: v1alpha1.ServerGroupSpec{
			Application: "shop", Stack: "main", Account: acct.Name, Region: "us-east-1",
			Capacity:         v1alpha1.Capacity{Min: 1, Max: 3, Desired: 2},
			CloudServerGroup: v1alpha1.CloudServerGroup{AWS: &v1alpha1.AWSServerGroup{ImageID: "ami-0abc"}},
		},
	}
	ex := &v1alpha1.Execution{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "demo-1"},
		Spec:       v1alpha1.ExecutionSpec{Pipeline: "demo"},
	}
	// The group in a namespace its account does not allow got in without the webhook, which refuses it.
	for _, obj := range []client.Object{acct, testenv.WithoutAdmission(sg), ex} {
		g.Expect(env.Client.Create(ctx, obj)).To(Succeed())
	}
	t.Cleanup(func() { _ = env.Client.Delete(ctx, acct) })

	for obj, reason := range map[interface {
		client.Object
		v1alpha1.Conditioned
	}]string{acct: "SecretNotFound", sg: v1alpha1.ReasonAccountNotAllowed} {
		g.Eventually(func(g Gomega) {
			c := ready(g, obj, func() error { return env.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj) })
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(reason))
		}, "30s").Should(Succeed(), "%T %s", obj, obj.GetName())
	}
	// The run's pipeline does not exist (yet): it waits in Queued and says why.
	g.Eventually(func(g Gomega) {
		c := ready(g, ex, func() error { return env.Client.Get(ctx, client.ObjectKeyFromObject(ex), ex) })
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(c.Reason).To(Equal("PipelineNotFound"))
		g.Expect(c.Message).To(ContainSubstring("pipeline demo does not exist"))
		g.Expect(ex.Status.Phase).To(Equal(v1alpha1.ExecutionQueued))
	}).Should(Succeed())
}

// TestPipelineValidation checks that a pipeline the schema accepts but that cannot run (here a cycle in
// dependsOn) is reported as Ready=False with a message naming the stage and field, with a Warning Event,
// and that fixing it makes it Ready.
func TestPipelineValidation(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := setup(t)
	ctx := context.Background()

	// build -> deploy -> verify -> build: a cycle, which only the controller can see.
	pl := &v1alpha1.Pipeline{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "release"},
		Spec: v1alpha1.PipelineSpec{
			Application: "shop",
			Stages: []v1alpha1.Stage{
				waitStage("build", "verify"),
				waitStage("deploy", "build"),
				waitStage("verify", "deploy"),
			},
		},
	}
	// Admitted without the webhook, which refuses the cycle at apply time.
	g.Expect(env.Client.Create(ctx, testenv.WithoutAdmission(pl))).To(Succeed())
	g.Eventually(func(g Gomega) {
		c := ready(g, pl, func() error { return env.Client.Get(ctx, client.ObjectKeyFromObject(pl), pl) })
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(c.Reason).To(Equal(v1alpha1.ReasonInvalid))
		g.Expect(c.Message).To(ContainSubstring("spec.stages[0].dependsOn"))
		g.Expect(c.Message).To(ContainSubstring("build -> verify -> deploy -> build"))
		g.Expect(pl.Status.StageCount).To(Equal(int32(3)))
	}).Should(Succeed())

	g.Eventually(func(g Gomega) {
		var events eventsv1.EventList
		g.Expect(env.Client.List(ctx, &events, client.InNamespace(ns))).To(Succeed())
		g.Expect(events.Items).To(ContainElement(And(
			HaveField("Regarding.Name", "release"),
			HaveField("Type", "Warning"),
			HaveField("Reason", v1alpha1.ReasonInvalid),
			HaveField("Note", ContainSubstring("spec.stages[0].dependsOn")),
		)))
	}).Should(Succeed())

	// The fix: build no longer waits for verify.
	// A merge patch, as kubectl apply sends: an update would race the controller's status writes.
	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(pl), pl)).To(Succeed())
	before := pl.DeepCopy()
	pl.Spec.Stages[0].DependsOn = nil
	g.Expect(env.Client.Patch(ctx, pl, client.MergeFrom(before))).To(Succeed())
	g.Eventually(func(g Gomega) {
		c := ready(g, pl, func() error { return env.Client.Get(ctx, client.ObjectKeyFromObject(pl), pl) })
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
		g.Expect(c.Reason).To(Equal(v1alpha1.ReasonValid))
	}).Should(Succeed())
}

func waitStage(name string, dependsOn ...string) v1alpha1.Stage {
	return v1alpha1.Stage{
		Name:      name,
		DependsOn: dependsOn,
		StageType: v1alpha1.StageType{Wait: &v1alpha1.WaitStage{Duration: "1s"}},
	}
}
