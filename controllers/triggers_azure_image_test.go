package controllers_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	azuresim "github.com/gennaker/gennaker/test/cloudsim/azure"
	"github.com/gennaker/gennaker/test/testenv"
)

// TestAzureImageTrigger watches the versions of a gallery image definition on the Azure simulator: the
// first look records the newest and starts nothing; a version excluded from latest, one published before
// the newest and one still being created start nothing; a new version starts exactly one run, with the
// version's resource ID as its artifact and bound parameter.
func TestAzureImageTrigger(t *testing.T) {
	g := testenv.NewWithT(t)
	z := setupAzure(t, false, azureSimOptions())
	ns := z.ns
	ctx := context.Background()
	addVersion := func(v azuresim.ImageVersion) string {
		v.ResourceGroup, v.Gallery, v.Image = azureGroup, "shop", "web"
		id, err := z.sim.AddImage(v)
		g.Expect(err).NotTo(HaveOccurred())
		return id
	}
	first := addVersion(azuresim.ImageVersion{Version: "1.0.0", Published: time.Now().Add(-time.Hour)})
	env.StartManagerWith(t, z.manager())
	apply(t, ns, fmt.Sprintf(`
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: web}
spec:
  application: shop
  parameters:
  - {name: image}
  triggers:
  - name: gallery
    machineImage: {account: %s, region: westeurope, gallery: {resourceGroup: %s, gallery: shop, image: web}, interval: 5s}
    parameters: {image: "${ trigger.artifact.reference }"}
  stages:
  - name: check
    checkPreconditions:
      expressions: ["trigger.type == 'machineImage' && parameters.image == trigger.artifact.reference"]
`, z.account, azureGroup))
	status := func(g Gomega) *v1alpha1.PolledArtifactStatus {
		var pl v1alpha1.Pipeline
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, &pl)).To(Succeed())
		g.Expect(pl.Status.Triggers).To(HaveLen(1))
		g.Expect(pl.Status.Triggers[0].MachineImage).NotTo(BeNil())
		g.Expect(pl.Status.Triggers[0].MachineImage.LastCheckTime).NotTo(BeNil())
		return pl.Status.Triggers[0].MachineImage
	}
	g.Eventually(func(g Gomega) {
		st := status(g)
		g.Expect(st.Version).To(Equal("1.0.0"), st.Message)
		g.Expect(st.Reference).To(Equal(first))
	}, "20s").Should(Succeed())
	g.Expect(runsOfPipeline(g, ns, "web")).To(BeEmpty(), "the first look started a run")

	// None of these is a new version a deploy would take.
	added := time.Now()
	addVersion(azuresim.ImageVersion{Version: "1.9.0", ExcludeFromLatest: true})
	addVersion(azuresim.ImageVersion{Version: "0.9.0", Published: time.Now().Add(-2 * time.Hour)})
	addVersion(azuresim.ImageVersion{Version: "1.8.0", ProvisioningState: "Creating"})
	addVersion(azuresim.ImageVersion{Version: "1.7.0", TargetRegions: []string{"eastus"}})
	g.Eventually(func(g Gomega) {
		st := status(g)
		g.Expect(st.LastCheckTime.Time.After(added.Add(time.Second))).To(BeTrue(), "last look at %s", st.LastCheckTime)
		g.Expect(st.Reference).To(Equal(first), st.Message)
	}, "20s").Should(Succeed())
	g.Expect(runsOfPipeline(g, ns, "web")).To(BeEmpty())

	newest := addVersion(azuresim.ImageVersion{Version: "1.1.0"})
	var run v1alpha1.Execution
	g.Eventually(func(g Gomega) {
		runs := runsOfPipeline(g, ns, "web")
		g.Expect(runs).To(HaveLen(1))
		run = runs[0]
	}, "20s").Should(Succeed())
	want := v1alpha1.Artifact{Type: v1alpha1.ArtifactMachineImage, Reference: newest, Version: "1.1.0"}
	g.Expect(run.Spec.Artifacts).To(Equal([]v1alpha1.Artifact{want}))
	g.Expect(run.Spec.Parameters).To(Equal(map[string]string{"image": newest}))
	waitPhase(g, ns, run.Name, v1alpha1.ExecutionSucceeded)
	// The looks after it find the same newest and start no other.
	ran := time.Now()
	g.Eventually(func(g Gomega) {
		st := status(g)
		g.Expect(st.LastCheckTime.Time.After(ran.Add(time.Second))).To(BeTrue(), "last look at %s", st.LastCheckTime)
		g.Expect(st.Reference).To(Equal(newest), st.Message)
	}, "20s").Should(Succeed())
	g.Expect(runsOfPipeline(g, ns, "web")).To(HaveLen(1))
}
