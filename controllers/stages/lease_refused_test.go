package stages

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
)

// TestDeployLeaseOfAnUnwritableRunPassesOn: a run whose status the API server refuses even failed still
// shows its deploy Running there; once the operator marks it (AnnotationStatusRefused), another run's
// deploy of the cluster takes its Lease over instead of waiting for it until its own timeout.
func TestDeployLeaseOfAnUnwritableRunPassesOn(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	api := newFakeAPI(t)
	st := All(api.deps())["deploy"]
	stage := deployStage(target("us-east-1", v1alpha1.StrategyHighlander, nil))
	first := stageRun(stage)
	holder := first.Execution.DeepCopy()
	holder.Status.Stages = []v1alpha1.StageStatus{{Name: "deploy", Phase: v1alpha1.StageRunning}}
	g.Expect(api.c.Create(ctx, holder)).To(Succeed())
	g.Expect(st.Start(ctx, first)).To(Succeed())
	g.Expect(first.Status.Phase).To(Equal(v1alpha1.StageRunning), first.Status.Message)

	second := asRun(stageRun(stage), "later-run", "uid-later")
	g.Expect(st.Start(ctx, second)).To(Succeed())
	g.Expect(second.Status.Message).To(HavePrefix("waiting for cluster shop-main"))

	var live v1alpha1.Execution
	g.Expect(api.c.Get(ctx, client.ObjectKeyFromObject(holder), &live)).To(Succeed())
	metav1.SetMetaDataAnnotation(&live.ObjectMeta, v1alpha1.AnnotationStatusRefused, "Invalid")
	g.Expect(api.c.Update(ctx, &live)).To(Succeed())
	second.Now = second.Now.Add(serverGroupPoll)
	g.Expect(st.Check(ctx, second)).To(Succeed())
	g.Expect(second.Status.Message).NotTo(HavePrefix("waiting"))
	g.Expect(leaseHolder(g, api)).To(Equal("later-run/deploy"))
}
