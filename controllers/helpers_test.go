package controllers_test

import (
	"context"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/test/testenv"
)

// apply creates the objects of a multi-document YAML manifest in namespace ns, as kubectl create would.
func apply(t *testing.T, ns, manifest string) {
	t.Helper()
	decode := serializer.NewCodecFactory(testenv.Scheme).UniversalDeserializer().Decode
	for _, doc := range strings.Split(manifest, "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		obj, _, err := decode([]byte(doc), nil, nil)
		if err != nil {
			t.Fatalf("decoding %s: %v", doc, err)
		}
		o := obj.(client.Object)
		o.SetNamespace(ns)
		if err := env.Client.Create(context.Background(), o); err != nil {
			t.Fatalf("creating %s %s: %v", obj.GetObjectKind().GroupVersionKind().Kind, o.GetName(), err)
		}
	}
}

// run creates an Execution of pipeline with parameters.
func run(t *testing.T, ns, name, pipeline string, params map[string]string) {
	t.Helper()
	ex := &v1alpha1.Execution{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       v1alpha1.ExecutionSpec{Pipeline: pipeline, Parameters: params},
	}
	if err := env.Client.Create(context.Background(), ex); err != nil {
		t.Fatalf("creating execution %s: %v", name, err)
	}
}

// execution reads an Execution as the API server has it.
func execution(g Gomega, ns, name string) *v1alpha1.Execution {
	var ex v1alpha1.Execution
	g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &ex)).To(Succeed())
	return &ex
}

// stageOf returns the status of one stage.
func stageOf(g Gomega, ex *v1alpha1.Execution, name string) v1alpha1.StageStatus {
	for _, st := range ex.Status.Stages {
		if st.Name == name {
			return st
		}
	}
	g.Expect(ex.Status.Stages).To(ContainElement(HaveField("Name", name)), "no status for stage %s", name)
	return v1alpha1.StageStatus{}
}

// phases maps each stage to its phase.
func phases(ex *v1alpha1.Execution) map[string]v1alpha1.StagePhase {
	out := map[string]v1alpha1.StagePhase{}
	for _, st := range ex.Status.Stages {
		out[st.Name] = st.Phase
	}
	return out
}

// waitPhase waits until the Execution reaches phase and returns it.
func waitPhase(g *WithT, ns, name string, phase v1alpha1.ExecutionPhase) *v1alpha1.Execution {
	var ex *v1alpha1.Execution
	g.Eventually(func(g Gomega) {
		ex = execution(g, ns, name)
		g.Expect(ex.Status.Phase).To(Equal(phase), "stages: %v, conditions: %v", phases(ex), ex.Status.Conditions)
	}).Should(Succeed())
	return ex
}

// waitStagePhase waits until a stage of the Execution reaches phase and returns the Execution.
func waitStagePhase(g *WithT, ns, name, stage string, phase v1alpha1.StagePhase) *v1alpha1.Execution {
	var ex *v1alpha1.Execution
	g.Eventually(func(g Gomega) {
		ex = execution(g, ns, name)
		g.Expect(phases(ex)).To(HaveKeyWithValue(stage, phase))
	}).Should(Succeed())
	return ex
}

// condition returns a condition of the Execution, or an empty one.
func condition(ex *v1alpha1.Execution, t string) metav1.Condition {
	if c := meta.FindStatusCondition(ex.Status.Conditions, t); c != nil {
		return *c
	}
	return metav1.Condition{}
}

// patch sends a merge patch to an Execution with kubectl, as a user would.
func patch(t *testing.T, ns, name, body string) {
	t.Helper()
	if out, err := env.Kubectl("-n", ns, "patch", "execution", name, "--type", "merge", "-p", body); err != nil {
		t.Fatalf("kubectl patch: %v: %s", err, out)
	}
}

// events lists the Events about an object.
func events(g Gomega, ns, name string) []eventsv1.Event {
	var list eventsv1.EventList
	g.Expect(env.Client.List(context.Background(), &list, client.InNamespace(ns))).To(Succeed())
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// setup gives a test a namespace and a running manager. The manager starts second so that it stops first
// (cleanups run in reverse): Events still being sent when the namespace goes would be refused, noisily.
func setup(t *testing.T) string {
	ns := env.Namespace(t)
	env.StartManager(t)
	return ns
}
