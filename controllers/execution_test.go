package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/test/testenv"
)

// TestExecutionRunsTheGraph runs a diamond with a skipped branch: stages start when their dependencies
// finished, independent ones together, and the run succeeds with conditions and Events a user can read.
func TestExecutionRunsTheGraph(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := setup(t)
	apply(t, ns, `
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: diamond}
spec:
  application: shop
  parameters:
  - {name: env, default: staging, options: [staging, prod]}
  stages:
  - {name: build, wait: {duration: 0s}}
  - {name: test-a, dependsOn: [build], wait: {duration: 1s}}
  - {name: test-b, dependsOn: [build], wait: {duration: 1s}}
  - {name: prod-only, dependsOn: [build], when: "parameters.env == 'prod'", wait: {duration: 1h}}
  - name: verify
    dependsOn: [test-a, test-b, prod-only]
    checkPreconditions:
      expressions:
      - "stages['prod-only'].phase == 'Skipped'"
      - "execution.name == 'diamond-1' && trigger.type == 'manual'"
`)
	run(t, ns, "diamond-1", "diamond", nil)

	ex := waitPhase(g, ns, "diamond-1", v1alpha1.ExecutionSucceeded)
	g.Expect(phases(ex)).To(Equal(map[string]v1alpha1.StagePhase{
		"build": "Succeeded", "test-a": "Succeeded", "test-b": "Succeeded", "prod-only": "Skipped", "verify": "Succeeded",
	}))
	build, a, b, verify := stageOf(g, ex, "build"), stageOf(g, ex, "test-a"), stageOf(g, ex, "test-b"), stageOf(g, ex, "verify")
	// test-a and test-b ran side by side, after build, and verify after both.
	g.Expect(a.StartTime.Time).To(Equal(b.StartTime.Time))
	g.Expect(a.StartTime.Before(build.EndTime)).To(BeFalse())
	g.Expect(verify.StartTime.Before(a.EndTime)).To(BeFalse())
	g.Expect(verify.StartTime.Before(b.EndTime)).To(BeFalse())
	g.Expect(stageOf(g, ex, "prod-only").Message).To(ContainSubstring("parameters.env == 'prod'"))

	g.Expect(ex.Status.Parameters).To(Equal(map[string]string{"env": "staging"}))
	g.Expect(ex.Status.PipelineGeneration).To(Equal(int64(1)))
	g.Expect(ex.Status.StartTime).NotTo(BeNil())
	g.Expect(ex.Status.CompletionTime).NotTo(BeNil())
	g.Expect(ex.Status.ObservedGeneration).To(Equal(ex.Generation))
	g.Expect(condition(ex, v1alpha1.ConditionReady)).To(HaveField("Status", metav1.ConditionTrue))
	g.Expect(condition(ex, v1alpha1.ConditionSucceeded)).To(HaveField("Status", metav1.ConditionTrue))
	g.Expect(condition(ex, v1alpha1.ConditionReconciling)).To(HaveField("Status", metav1.ConditionFalse))
	g.Expect(condition(ex, v1alpha1.ConditionStalled)).To(HaveField("Status", metav1.ConditionFalse))

	// A late edit of a finished run changes nothing, but is observed (kstatus would show it in progress).
	patch(t, ns, "diamond-1", `{"spec":{"cancel":true}}`)
	g.Eventually(func(g Gomega) {
		ex := execution(g, ns, "diamond-1")
		g.Expect(ex.Status.ObservedGeneration).To(Equal(ex.Generation))
		g.Expect(condition(ex, v1alpha1.ConditionReady).ObservedGeneration).To(Equal(ex.Generation))
		g.Expect(ex.Status.Phase).To(Equal(v1alpha1.ExecutionSucceeded))
	}).Should(Succeed())

	// kubectl wait works on it, as the README promises.
	out, err := env.Kubectl("-n", ns, "wait", "--for=condition=Succeeded", "execution/diamond-1", "--timeout=5s")
	g.Expect(err).NotTo(HaveOccurred(), out)

	g.Eventually(func(g Gomega) {
		var reasons []string
		for _, e := range events(g, ns, "diamond-1") {
			reasons = append(reasons, e.Reason+" "+strings.SplitN(e.Note, ":", 2)[0])
		}
		g.Expect(reasons).To(ContainElements(
			"Started pipeline diamond generation 1 started with 5 stages",
			"StageStarted stage build (wait) Running",
			"StageSucceeded stage test-a (wait) Succeeded",
			"StageSkipped stage prod-only (wait) Skipped",
			"StageSucceeded stage verify (checkPreconditions) Succeeded",
			"Succeeded every stage finished",
		))
	}).Should(Succeed())
}

// TestExecutionParameters fails a run at once when its parameters do not fit the pipeline, with a
// message naming each field, and renders templates with the resolved ones.
func TestExecutionParameters(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := setup(t)
	apply(t, ns, `
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: params}
spec:
  application: shop
  limitConcurrent: false
  parameters:
  - {name: image, required: true}
  - {name: env, default: staging, options: [staging, prod]}
  stages:
  - name: check
    checkPreconditions:
      expressions: ["parameters.image.startsWith('ami-') && parameters.env == 'prod'"]
`)
	run(t, ns, "missing", "params", map[string]string{"env": "qa", "colour": "blue"})
	run(t, ns, "good", "params", map[string]string{"image": "ami-0abc", "env": "prod"})

	ex := waitPhase(g, ns, "missing", v1alpha1.ExecutionFailed)
	msg := condition(ex, v1alpha1.ConditionReady).Message
	g.Expect(msg).To(ContainSubstring("spec.parameters.image is required"))
	g.Expect(msg).To(ContainSubstring(`spec.parameters.env: "qa" is not one of staging, prod`))
	g.Expect(msg).To(ContainSubstring("spec.parameters.colour is not a parameter of the pipeline"))
	g.Expect(condition(ex, v1alpha1.ConditionStalled)).To(HaveField("Status", metav1.ConditionTrue))
	g.Expect(ex.Status.Stages).To(BeEmpty(), "no stage runs")

	ex = waitPhase(g, ns, "good", v1alpha1.ExecutionSucceeded)
	g.Expect(ex.Status.Parameters).To(Equal(map[string]string{"image": "ami-0abc", "env": "prod"}))

	// A run created before its pipeline (a GitOps sync applies both in any order) waits, then runs.
	run(t, ns, "early", "late", nil)
	g.Eventually(func(g Gomega) {
		g.Expect(condition(execution(g, ns, "early"), v1alpha1.ConditionReady).Reason).To(Equal("PipelineNotFound"))
	}).Should(Succeed())
	apply(t, ns, `
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: late}
spec:
  application: shop
  stages: [{name: pause, wait: {duration: 0s}}]
---
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: cyclic, labels: {testenv.gennaker.io/admission: "off"}} # admitted without the webhook, which refuses the cycle
spec:
  application: shop
  stages:
  - {name: a, dependsOn: [b], wait: {duration: 0s}}
  - {name: b, dependsOn: [a], wait: {duration: 0s}}
`)
	waitPhase(g, ns, "early", v1alpha1.ExecutionSucceeded)

	// A pipeline the controller found invalid does not run.
	run(t, ns, "cycle", "cyclic", nil)
	ex = waitPhase(g, ns, "cycle", v1alpha1.ExecutionFailed)
	g.Expect(condition(ex, v1alpha1.ConditionReady).Message).To(ContainSubstring("pipeline cyclic is invalid: spec.stages[0].dependsOn"))
}

// TestManualJudgment approves one judgment with kubectl patch, as the README says, stops another, shows
// the waiting stage in the printer columns and conditions, applies a judgment made before its stage
// starts, and reports a judgment for a stage that does not exist.
func TestManualJudgment(t *testing.T) {
	g := testenv.NewWithT(t)
	// Without admission, which would refuse the judgment of a stage that does not exist (see
	// approvals_test.go): what the controller reports of one that got in anyway.
	ns := env.NamespaceWithoutAdmission(t)
	env.StartManager(t)
	apply(t, ns, `
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: judged}
spec:
  application: shop
  limitConcurrent: false
  stages:
  - name: go-no-go
    manualJudgment: {instructions: "Verify the canary scores", inputs: [ship, hold]}
  - name: later
    dependsOn: [go-no-go]
    manualJudgment: {instructions: "Once more"}
  - name: shipped
    dependsOn: [later]
    checkPreconditions: {expressions: ["stages['go-no-go'].outputs.input == 'ship'"]}
`)
	run(t, ns, "approve", "judged", nil)
	run(t, ns, "stop", "judged", nil)

	ex := waitStagePhase(g, ns, "approve", "go-no-go", v1alpha1.StageWaitingForJudgment)
	g.Expect(ex.Status.Phase).To(Equal(v1alpha1.ExecutionAwaitingJudgment))
	aw := condition(ex, v1alpha1.ConditionAwaitingJudgment)
	g.Expect(aw.Status).To(Equal(metav1.ConditionTrue))
	g.Expect(aw.Message).To(Equal("stage go-no-go waits for a judgment: Verify the canary scores (inputs: ship, hold)"))
	g.Expect(ex.Status.Message).To(Equal(aw.Message))
	out, err := env.Kubectl("-n", ns, "get", "executions", "approve", "--no-headers")
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(strings.Fields(out)).To(HaveExactElements("approve", "judged", "AwaitingJudgment", "go-no-go", "go-no-go", "manual", MatchRegexp(`^\d+s$`)))

	// A decision for "later", made before that stage starts, and one for a stage that is no judgment.
	patch(t, ns, "approve", `{"spec":{"judgments":{"later":{"decision":"Continue"},"nope":{"decision":"Continue"}}}}`)
	g.Eventually(func(g Gomega) {
		ex := execution(g, ns, "approve")
		c := condition(ex, "InvalidJudgment")
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
		g.Expect(c.Message).To(ContainSubstring("spec.judgments.nope: pipeline judged has no manualJudgment stage named nope"))
		g.Expect(phases(ex)).To(HaveKeyWithValue("later", v1alpha1.StageNotStarted))
	}).Should(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(events(g, ns, "approve")).To(ContainElement(And(HaveField("Type", "Warning"), HaveField("Reason", "InvalidJudgment"))))
	}).Should(Succeed())

	patch(t, ns, "approve", `{"spec":{"judgments":{"go-no-go":{"decision":"Continue","input":"ship","comment":"scores look fine"}}}}`)
	ex = waitPhase(g, ns, "approve", v1alpha1.ExecutionSucceeded)
	gng := stageOf(g, ex, "go-no-go")
	g.Expect(gng.Phase).To(Equal(v1alpha1.StageSucceeded))
	g.Expect(gng.Conditions).To(ContainElement(And(
		HaveField("Type", v1alpha1.ConditionJudged),
		HaveField("Reason", "Continue"),
		HaveField("Message", And(ContainSubstring(`input "ship"`), ContainSubstring(`comment "scores look fine"`))),
	)))
	g.Expect(string(gng.Outputs["input"].Raw)).To(Equal(`"ship"`))
	g.Expect(stageOf(g, ex, "later").Phase).To(Equal(v1alpha1.StageSucceeded), "the early judgment was applied")
	g.Expect(stageOf(g, ex, "shipped").Phase).To(Equal(v1alpha1.StageSucceeded), "the input reached a later stage")
	g.Expect(condition(ex, v1alpha1.ConditionAwaitingJudgment).Status).To(Equal(metav1.ConditionFalse))

	waitStagePhase(g, ns, "stop", "go-no-go", v1alpha1.StageWaitingForJudgment)
	patch(t, ns, "stop", `{"spec":{"judgments":{"go-no-go":{"decision":"Stop","comment":"error rate up"}}}}`)
	ex = waitPhase(g, ns, "stop", v1alpha1.ExecutionFailed)
	g.Expect(stageOf(g, ex, "go-no-go").Phase).To(Equal(v1alpha1.StageFailed))
	g.Expect(stageOf(g, ex, "go-no-go").Conditions).To(ContainElement(HaveField("Reason", "Stop")))
	g.Expect(stageOf(g, ex, "later").Phase).To(Equal(v1alpha1.StageNotStarted))
	g.Expect(condition(ex, v1alpha1.ConditionReady).Message).To(ContainSubstring("stage go-no-go failed: stopped by judgment"))

	// A decision, once made, cannot be changed: the API server says so.
	out, err = env.Kubectl("-n", ns, "patch", "execution", "stop", "--type", "merge", "-p", `{"spec":{"judgments":{"go-no-go":{"decision":"Continue"}}}}`)
	g.Expect(err).To(HaveOccurred())
	g.Expect(out).To(ContainSubstring("a judgment, once made, cannot be changed"))
}

// TestOnFailure shows Spinnaker's three failure modes on the same graph: a failing check beside a long
// branch.
func TestOnFailure(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := setup(t)
	for _, mode := range []string{"Fail", "Continue", "FailAfterBranches"} {
		apply(t, ns, fmt.Sprintf(`
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: %s}
spec:
  application: shop
  stages:
  - {name: warm-up, wait: {duration: 1s}}
  - {name: check, dependsOn: [warm-up], onFailure: %s, checkPreconditions: {expressions: ["1 == 2"]}}
  - {name: after-check, dependsOn: [check], wait: {duration: 0s}}
  - {name: other-branch, wait: {duration: 3s}}
  - {name: after-other, dependsOn: [other-branch], wait: {duration: 0s}}
`, strings.ToLower(mode), mode))
		run(t, ns, strings.ToLower(mode), strings.ToLower(mode), nil)
	}

	ex := waitPhase(g, ns, "fail", v1alpha1.ExecutionFailed)
	g.Expect(phases(ex)).To(Equal(map[string]v1alpha1.StagePhase{
		"warm-up": "Succeeded", "check": "Failed", "after-check": "NotStarted", "other-branch": "Canceled", "after-other": "NotStarted",
	}))
	g.Expect(stageOf(g, ex, "check").Message).To(Equal("checkPreconditions.expressions[0] is false: 1 == 2"))
	g.Expect(condition(ex, v1alpha1.ConditionReady).Message).To(ContainSubstring("stage check failed: checkPreconditions.expressions[0] is false: 1 == 2"))

	ex = waitPhase(g, ns, "continue", v1alpha1.ExecutionSucceeded)
	g.Expect(phases(ex)).To(Equal(map[string]v1alpha1.StagePhase{
		"warm-up": "Succeeded", "check": "FailedContinue", "after-check": "Succeeded", "other-branch": "Succeeded", "after-other": "Succeeded",
	}))

	ex = waitPhase(g, ns, "failafterbranches", v1alpha1.ExecutionFailed)
	g.Expect(phases(ex)).To(Equal(map[string]v1alpha1.StagePhase{
		"warm-up": "Succeeded", "check": "Failed", "after-check": "NotStarted", "other-branch": "Succeeded", "after-other": "Succeeded",
	}))
}

// TestTimeoutSkipAndCancel: a stage that runs too long fails; a person skips a long wait; a canceled run
// stops its running stages and its child run.
func TestTimeoutSkipAndCancel(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := setup(t)
	apply(t, ns, `
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: slow}
spec:
  application: shop
  limitConcurrent: false
  stages:
  - {name: soak, timeout: 1s, wait: {duration: 1h}}
---
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: skippable}
spec:
  application: shop
  stages:
  - {name: soak, wait: {duration: 1h}}
  - {name: after, dependsOn: [soak], wait: {duration: 0s}}
---
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: parent}
spec:
  application: shop
  stages:
  - {name: child, pipeline: {name: skippable}}
  - {name: gate, manualJudgment: {}}
  - {name: never, dependsOn: [gate, child], wait: {duration: 0s}}
`)
	run(t, ns, "timeout", "slow", nil)
	run(t, ns, "skip", "skippable", nil)
	run(t, ns, "cancel", "parent", nil)

	ex := waitPhase(g, ns, "timeout", v1alpha1.ExecutionFailed)
	g.Expect(stageOf(g, ex, "soak").Message).To(Equal("timed out after 1s"))

	ex = waitStagePhase(g, ns, "skip", "soak", v1alpha1.StageRunning)
	g.Expect(stageOf(g, ex, "soak").NextCheckTime).NotTo(BeNil(), "the status says when the wait ends")
	patch(t, ns, "skip", `{"spec":{"skipWaits":["soak"]}}`)
	ex = waitPhase(g, ns, "skip", v1alpha1.ExecutionSucceeded)
	g.Expect(stageOf(g, ex, "soak").Message).To(HavePrefix("skipped by spec.skipWaits"))

	waitStagePhase(g, ns, "cancel", "gate", v1alpha1.StageWaitingForJudgment)
	child := waitStagePhase(g, ns, "cancel-child", "soak", v1alpha1.StageRunning)
	g.Expect(execution(g, ns, "skip").Status.Phase).To(Equal(v1alpha1.ExecutionSucceeded), "limitConcurrent let the child start")
	g.Expect(child.Annotations).To(HaveKeyWithValue(v1alpha1.AnnotationParentExecution, "cancel"))
	patch(t, ns, "cancel", `{"spec":{"cancel":true}}`)
	ex = waitPhase(g, ns, "cancel", v1alpha1.ExecutionCanceled)
	g.Expect(phases(ex)).To(Equal(map[string]v1alpha1.StagePhase{"child": "Canceled", "gate": "Canceled", "never": "NotStarted"}))
	g.Expect(condition(ex, v1alpha1.ConditionSucceeded)).To(HaveField("Reason", "Canceled"))
	child = waitPhase(g, ns, "cancel-child", v1alpha1.ExecutionCanceled)
	g.Expect(stageOf(g, child, "soak").Phase).To(Equal(v1alpha1.StageCanceled))
}

// TestPipelineStage runs child pipelines: parameters pass down as templates, a waited-for child's
// failure fails the stage, and a child that is only started lets the parent go on.
func TestPipelineStage(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := setup(t)
	apply(t, ns, `
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: child}
spec:
  application: shop
  limitConcurrent: false
  parameters: [{name: image, required: true}]
  stages:
  - name: check
    checkPreconditions: {expressions: ["parameters.image == 'ami-good' && trigger.type == 'pipeline' && trigger.parentStage == 'deploy'"]}
---
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: parent}
spec:
  application: shop
  limitConcurrent: false
  parameters: [{name: image, required: true}]
  stages:
  - {name: deploy, pipeline: {name: child, parameters: {image: "${ parameters.image }"}}}
  - {name: fire-and-forget, pipeline: {name: child, wait: false, parameters: {image: nope}}}
`)
	run(t, ns, "good", "parent", map[string]string{"image": "ami-good"})
	run(t, ns, "bad", "parent", map[string]string{"image": "ami-bad"})

	ex := waitPhase(g, ns, "good", v1alpha1.ExecutionSucceeded)
	g.Expect(string(stageOf(g, ex, "deploy").Outputs["execution"].Raw)).To(Equal(`"good-deploy"`))
	child := waitPhase(g, ns, "good-deploy", v1alpha1.ExecutionSucceeded)
	g.Expect(child.Status.Parameters).To(HaveKeyWithValue("image", "ami-good"))
	g.Expect(metav1.IsControlledBy(child, ex)).To(BeTrue())
	// The un-awaited child failed, which did not fail its parent.
	waitPhase(g, ns, "good-fire-and-forget", v1alpha1.ExecutionFailed)

	ex = waitPhase(g, ns, "bad", v1alpha1.ExecutionFailed)
	g.Expect(stageOf(g, ex, "deploy").Message).To(HavePrefix("execution bad-deploy is Failed"))

	// A controller that died between creating a child and recording it finds the child again on restart
	// and adopts it; an Execution of that name that is not its child is never taken for one.
	apply(t, ns, `
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: gated}
spec:
  application: shop
  limitConcurrent: false
  stages:
  - {name: gate, manualJudgment: {}}
  - {name: deploy, dependsOn: [gate], pipeline: {name: child, parameters: {image: ami-good}}}
`)
	run(t, ns, "adopt", "gated", nil)
	run(t, ns, "squat", "gated", nil)
	parent := waitStagePhase(g, ns, "adopt", "gate", v1alpha1.StageWaitingForJudgment)
	waitStagePhase(g, ns, "squat", "gate", v1alpha1.StageWaitingForJudgment)
	orphan := &v1alpha1.Execution{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "adopt-deploy",
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(parent, v1alpha1.GroupVersion.WithKind("Execution"))},
			Annotations:     map[string]string{v1alpha1.AnnotationTrigger: v1alpha1.TriggerPipeline, v1alpha1.AnnotationParentExecution: "adopt", v1alpha1.AnnotationParentStage: "deploy"}},
		Spec: v1alpha1.ExecutionSpec{Pipeline: "child", Parameters: map[string]string{"image": "ami-good"}},
	}
	g.Expect(env.Client.Create(context.Background(), orphan)).To(Succeed())
	run(t, ns, "squat-deploy", "child", map[string]string{"image": "ami-good"})
	patch(t, ns, "adopt", `{"spec":{"judgments":{"gate":{"decision":"Continue"}}}}`)
	patch(t, ns, "squat", `{"spec":{"judgments":{"gate":{"decision":"Continue"}}}}`)
	waitPhase(g, ns, "adopt", v1alpha1.ExecutionSucceeded)
	g.Expect(execution(g, ns, "adopt-deploy").UID).To(Equal(orphan.UID), "the child was adopted, not made again")
	ex = waitPhase(g, ns, "squat", v1alpha1.ExecutionFailed)
	g.Expect(stageOf(g, ex, "deploy").Message).To(Equal("execution squat-deploy already exists and was not started by this stage"))
}

// TestLimitConcurrent queues later runs while one runs, and starts them in creation order.
func TestLimitConcurrent(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := setup(t)
	apply(t, ns, `
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: serial}
spec:
  application: shop
  stages:
  - {name: gate, manualJudgment: {}}
`)
	for _, name := range []string{"first", "second", "third"} {
		run(t, ns, name, "serial", nil)
		// Distinct creation times, which have a resolution of one second.
		g.Eventually(func(g Gomega) {
			g.Expect(execution(g, ns, name).Status.Phase).NotTo(BeEmpty())
		}).Should(Succeed())
	}
	waitStagePhase(g, ns, "first", "gate", v1alpha1.StageWaitingForJudgment)
	ex := waitPhase(g, ns, "third", v1alpha1.ExecutionQueued)
	g.Expect(condition(ex, v1alpha1.ConditionReady).Message).To(Or(
		ContainSubstring("waits for execution first"), ContainSubstring("queued behind execution second")))
	g.Expect(execution(g, ns, "second").Status.Phase).To(Equal(v1alpha1.ExecutionQueued))

	patch(t, ns, "first", `{"spec":{"judgments":{"gate":{"decision":"Continue"}}}}`)
	waitPhase(g, ns, "first", v1alpha1.ExecutionSucceeded)
	waitStagePhase(g, ns, "second", "gate", v1alpha1.StageWaitingForJudgment)
	g.Eventually(func(g Gomega) {
		ex := execution(g, ns, "third")
		g.Expect(ex.Status.Phase).To(Equal(v1alpha1.ExecutionQueued))
		g.Expect(condition(ex, v1alpha1.ConditionReady).Message).To(ContainSubstring("waits for execution second"))
	}).Should(Succeed())

	// A queued run can be canceled before it starts.
	run(t, ns, "fourth", "serial", nil)
	waitPhase(g, ns, "fourth", v1alpha1.ExecutionQueued)
	patch(t, ns, "fourth", `{"spec":{"cancel":true}}`)
	ex = waitPhase(g, ns, "fourth", v1alpha1.ExecutionCanceled)
	g.Expect(condition(ex, v1alpha1.ConditionReady).Message).To(Equal("canceled before it started"))

	patch(t, ns, "second", `{"spec":{"judgments":{"gate":{"decision":"Continue"}}}}`)
	waitStagePhase(g, ns, "third", "gate", v1alpha1.StageWaitingForJudgment)
}

// TestFrozenPipeline edits a Pipeline while a run of it waits: the run keeps the stages it started with.
func TestFrozenPipeline(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := setup(t)
	ctx := context.Background()
	apply(t, ns, `
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: frozen}
spec:
  application: shop
  stages:
  - {name: gate, manualJudgment: {}}
  - {name: old, dependsOn: [gate], wait: {duration: 0s}}
`)
	run(t, ns, "run", "frozen", nil)
	waitStagePhase(g, ns, "run", "gate", v1alpha1.StageWaitingForJudgment)

	var pl v1alpha1.Pipeline
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "frozen"}, &pl)).To(Succeed())
	before := pl.DeepCopy()
	pl.Spec.Stages[1] = v1alpha1.Stage{Name: "new", DependsOn: []string{"gate"},
		StageType: v1alpha1.StageType{CheckPreconditions: &v1alpha1.CheckPreconditionsStage{Expressions: []string{"false"}}}}
	g.Expect(env.Client.Patch(ctx, &pl, client.MergeFrom(before))).To(Succeed())

	patch(t, ns, "run", `{"spec":{"judgments":{"gate":{"decision":"Continue"}}}}`)
	ex := waitPhase(g, ns, "run", v1alpha1.ExecutionSucceeded)
	g.Expect(phases(ex)).To(Equal(map[string]v1alpha1.StagePhase{"gate": "Succeeded", "old": "Succeeded"}))
	g.Expect(ex.Status.PipelineGeneration).To(Equal(int64(1)))
	g.Expect(ex.Status.PipelineSpec.Stages[1].Name).To(Equal("old"))
}

// TestExecutionWindow holds a stage until its window opens, and says until when.
func TestExecutionWindow(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := setup(t)
	now := time.Now().UTC()
	closed := fmt.Sprintf(`{from: "%s", to: "%s"}`, now.Add(2*time.Hour).Format("15:04"), now.Add(3*time.Hour).Format("15:04"))
	open := fmt.Sprintf(`{from: "%s", to: "%s"}`, now.Add(-time.Hour).Format("15:04"), now.Add(time.Hour).Format("15:04"))
	apply(t, ns, fmt.Sprintf(`
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: windowed}
spec:
  application: shop
  stages:
  - {name: open, window: %s, wait: {duration: 0s}}
  - {name: closed, dependsOn: [open], window: %s, wait: {duration: 0s}}
  - {name: skipped, when: "false", window: %[2]s, wait: {duration: 0s}}
`, open, closed))
	run(t, ns, "run", "windowed", nil)
	g.Eventually(func(g Gomega) {
		ex := execution(g, ns, "run")
		g.Expect(phases(ex)).To(Equal(map[string]v1alpha1.StagePhase{"open": "Succeeded", "closed": "NotStarted", "skipped": "Skipped"}))
		st := stageOf(g, ex, "closed")
		g.Expect(st.Message).To(ContainSubstring("waiting for its execution window, which opens at " + now.Add(2*time.Hour).Format("2006-01-02T15:04")))
		g.Expect(ex.Status.Phase).To(Equal(v1alpha1.ExecutionRunning))
		g.Expect(condition(ex, v1alpha1.ConditionReady).Message).To(Equal("waiting for an execution window"))
	}).Should(Succeed())
}
