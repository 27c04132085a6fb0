package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/test/testenv"
)

// TestManualRunNamesItsArtifact runs by hand a pipeline whose stages read the artifact from trigger, as a
// triggered run would give it: the run's spec.artifacts is trigger.artifact, status.trigger records it with
// the user, and kubectl get executions shows the trigger type.
func TestManualRunNamesItsArtifact(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := setup(t)
	ctx := context.Background()
	apply(t, ns, `
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: ship}
spec:
  application: shop
  stages:
  - name: check
    checkPreconditions:
      expressions:
      - "trigger.type == 'manual' && trigger.artifact.reference == 'registry.example.com/shop/web:1.4.2@sha256:0123'"
      - "trigger.artifact.version == '1.4.2' && size(trigger.artifacts) == 1"
`)
	artifact := v1alpha1.Artifact{Type: v1alpha1.ArtifactDockerImage, Reference: "registry.example.com/shop/web:1.4.2@sha256:0123",
		Repository: "registry.example.com/shop/web", Version: "1.4.2", Digest: "sha256:0123"}
	ex := &v1alpha1.Execution{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ship-1"},
		Spec:       v1alpha1.ExecutionSpec{Pipeline: "ship", Artifacts: []v1alpha1.Artifact{artifact}},
	}
	g.Expect(env.Client.Create(ctx, ex)).To(Succeed())

	done := waitPhase(g, ns, "ship-1", v1alpha1.ExecutionSucceeded)
	g.Expect(done.Status.Trigger).NotTo(BeNil())
	g.Expect(done.Status.Trigger.Type).To(Equal(v1alpha1.TriggerManual))
	g.Expect(done.Status.Trigger.User).NotTo(BeEmpty())
	g.Expect(done.Status.Trigger.Artifact).To(Equal(&artifact))

	out, err := env.Kubectl("-n", ns, "get", "executions")
	g.Expect(err).NotTo(HaveOccurred(), out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	g.Expect(lines[0]).To(ContainSubstring("TRIGGER"))
	g.Expect(strings.Fields(lines[1])).To(ContainElement("manual"))

	// The artifacts are part of what the run was asked to do: they cannot change afterwards.
	err = env.Client.Patch(ctx, done, client.RawPatch(types.MergePatchType,
		[]byte(`{"spec":{"artifacts":[{"type":"DockerImage","reference":"registry.example.com/shop/web:9.9.9"}]}}`)))
	g.Expect(err).To(MatchError(ContainSubstring("artifacts are immutable")))
}

// TestDeployTakesTheTriggerArtifact deploys the image the run's artifact names, as an image or webhook
// trigger's run would: the new ServerGroup runs trigger.artifact.reference.
func TestDeployTakesTheTriggerArtifact(t *testing.T) {
	g := testenv.NewWithT(t)
	a := setupAWS(t, true)
	ctx := context.Background()
	apply(t, a.ns, fmt.Sprintf(`
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: ship}
spec:
  application: shop
  stages:
  - name: deploy
    deploy:
      clusters:
      - account: %s
        region: us-east-1
        stack: main
        capacity: {min: 1, max: 1, desired: 1}
        strategy: None
        aws:
          imageID: "${ trigger.artifact.reference }"
          instanceType: m7g.large
          targetGroupARNs: [%s]
          subnetIDs: [subnet-0a]
`, a.account, targetGroup))
	g.Expect(env.Client.Create(ctx, &v1alpha1.Execution{
		ObjectMeta: metav1.ObjectMeta{Namespace: a.ns, Name: "ship-1"},
		Spec: v1alpha1.ExecutionSpec{Pipeline: "ship", Artifacts: []v1alpha1.Artifact{
			{Type: v1alpha1.ArtifactMachineImage, Reference: "ami-0000000000000abcd", Version: "2026.12.03"}}},
	})).To(Succeed())
	waitPhase(g, a.ns, "ship-1", v1alpha1.ExecutionSucceeded)
	sg := getGroup(g, a.ns, "shop-main-v000")
	g.Expect(sg.Spec.AWS.ImageID).To(Equal("ami-0000000000000abcd"))
}

// TestTriggerShapeIsChecked applies Pipelines whose triggers the schema refuses, and reads the reasons a
// user would: each names the field.
func TestTriggerShapeIsChecked(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	for reason, c := range map[string]struct {
		trigger v1alpha1.Trigger
		says    string
	}{
		"two types": {v1alpha1.Trigger{Name: "t", Cron: &v1alpha1.CronTrigger{Schedule: "@hourly"},
			Pipeline: &v1alpha1.PipelineTrigger{Pipeline: "build"}}, "exactly one of cron, webhook, pipeline, image, maven or machineImage must be set"},
		"none": {v1alpha1.Trigger{Name: "t"}, "exactly one of cron, webhook, pipeline, image, maven or machineImage must be set"},
		"no name": {v1alpha1.Trigger{Pipeline: &v1alpha1.PipelineTrigger{Pipeline: "build"}},
			"spec.triggers[0].name: Invalid value: name is required for webhook, pipeline, image, maven and machineImage triggers"},
		"semver and regex": {v1alpha1.Trigger{Name: "t", Image: &v1alpha1.ImageTrigger{Repository: "r.example.com/x", Semver: "^1", Regex: "."}},
			"spec.triggers[0].image.semver: Invalid value: exactly one of semver or regex must be set"},
	} {
		pl := &v1alpha1.Pipeline{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shape"},
			Spec: v1alpha1.PipelineSpec{Application: "shop", Triggers: []v1alpha1.Trigger{c.trigger},
				Stages: []v1alpha1.Stage{{Name: "w", StageType: v1alpha1.StageType{Wait: &v1alpha1.WaitStage{Duration: "1s"}}}}},
		}
		g.Expect(env.Client.Create(ctx, pl)).To(MatchError(ContainSubstring(c.says)), reason)
	}
}
