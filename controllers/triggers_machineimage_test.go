package controllers_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	awssim "github.com/gennaker/gennaker/test/cloudsim/aws"
	"github.com/gennaker/gennaker/test/testenv"
)

// TestMachineImageTrigger watches the AMIs of a CloudAccount on the AWS simulator: the first look records
// the newest matching image and starts nothing; an image whose name does not match, or one created before
// the newest, starts nothing; a new matching AMI starts exactly one run, with the AMI as its artifact and
// bound parameter; a restarted manager does not start it again.
func TestMachineImageTrigger(t *testing.T) {
	g := testenv.NewWithT(t)
	a := setupAWS(t, false)
	ns := a.ns
	ctx := context.Background()
	addImage := func(name string, created time.Time) string {
		id, err := a.sim.AddImage(awssim.Image{Name: name, Created: created})
		g.Expect(err).NotTo(HaveOccurred())
		return id
	}
	first := addImage("shop-web-1", time.Now().Add(-time.Hour))
	stop := env.StartManagerWith(t, a.manager())
	apply(t, ns, fmt.Sprintf(`
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: web}
spec:
  application: shop
  parameters:
  - {name: image}
  triggers:
  - name: ami
    machineImage: {account: %s, region: us-east-1, name: "shop-web-*", interval: 5s}
    parameters: {image: "${ trigger.artifact.reference }"}
  stages:
  - name: check
    checkPreconditions:
      expressions: ["trigger.type == 'machineImage' && parameters.image == trigger.artifact.reference"]
`, a.account))
	status := func(g Gomega) *v1alpha1.PolledArtifactStatus {
		var pl v1alpha1.Pipeline
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, &pl)).To(Succeed())
		g.Expect(pl.Status.Triggers).To(HaveLen(1))
		g.Expect(pl.Status.Triggers[0].MachineImage).NotTo(BeNil())
		g.Expect(pl.Status.Triggers[0].MachineImage.LastCheckTime).NotTo(BeNil())
		return pl.Status.Triggers[0].MachineImage
	}
	// lookedAfter waits for a look that began after t (the status keeps whole seconds).
	lookedAfter := func(t time.Time) *v1alpha1.PolledArtifactStatus {
		var st *v1alpha1.PolledArtifactStatus
		g.Eventually(func(g Gomega) {
			st = status(g)
			g.Expect(st.LastCheckTime.Time.After(t.Add(time.Second))).To(BeTrue(), "last look at %s", st.LastCheckTime)
		}, "20s").Should(Succeed())
		return st
	}
	g.Eventually(func(g Gomega) {
		st := status(g)
		g.Expect(st.Version).To(Equal("shop-web-1"))
		g.Expect(st.Reference).To(Equal(first))
	}).Should(Succeed())
	g.Expect(runsOfPipeline(g, ns, "web")).To(BeEmpty(), "the first look started a run")

	// Neither a name that does not match nor an image older than the newest is new.
	added := time.Now()
	addImage("billing-7", time.Now())
	addImage("shop-web-0", time.Now().Add(-2*time.Hour))
	st := lookedAfter(added)
	g.Expect(st.Reference).To(Equal(first), st.Message)
	g.Expect(runsOfPipeline(g, ns, "web")).To(BeEmpty())

	newest := addImage("shop-web-2", time.Time{})
	var run v1alpha1.Execution
	g.Eventually(func(g Gomega) {
		runs := runsOfPipeline(g, ns, "web")
		g.Expect(runs).To(HaveLen(1))
		run = runs[0]
	}, "20s").Should(Succeed())
	want := v1alpha1.Artifact{Type: v1alpha1.ArtifactMachineImage, Reference: newest, Version: "shop-web-2"}
	g.Expect(run.Spec.Artifacts).To(Equal([]v1alpha1.Artifact{want}))
	g.Expect(run.Spec.Parameters).To(Equal(map[string]string{"image": newest}))
	ex := waitPhase(g, ns, run.Name, v1alpha1.ExecutionSucceeded)
	g.Expect(ex.Status.Trigger).To(Equal(&v1alpha1.ExecutionTrigger{Type: v1alpha1.TriggerMachineImage, Name: "ami", Artifact: &want}))
	g.Eventually(func(g Gomega) { g.Expect(status(g).Reference).To(Equal(newest)) }).Should(Succeed())

	// A restarted manager looks again, finds the same newest image, and starts nothing.
	stop()
	restarted := time.Now()
	env.StartManagerWith(t, a.manager())
	st = lookedAfter(restarted)
	g.Expect(st.Reference).To(Equal(newest), st.Message)
	g.Expect(runsOfPipeline(g, ns, "web")).To(HaveLen(1))
}
