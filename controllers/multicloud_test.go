package controllers_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers"
	"github.com/gennaker/gennaker/controllers/cloud"
	awscloud "github.com/gennaker/gennaker/controllers/cloud/aws"
	"github.com/gennaker/gennaker/test/testenv"
)

// multiCloudTargets are the deploy targets of cluster shop-main in an AWS and a GCP account.
func multiCloudTargets(a *awsEnv, p *gcpEnv, strategy string) (awsTarget, gcpTarget string) {
	awsTarget = `
      - account: ` + a.account + `
        region: us-east-1
        stack: main
        capacity: {min: 3, max: 5, desired: 3}
        strategy: ` + strategy + `
        aws:
          imageID: "${ parameters.awsImage }"
          instanceType: m7g.large
          targetGroupARNs: [` + targetGroup + `]
          subnetIDs: [subnet-0a]`
	return awsTarget, p.deployTarget(strategy, "")
}

// multiCloudPipeline brings the new version up beside the old one in AWS and in GCP at once, waits for
// one person's go/no-go, and then moves all traffic to it in both clouds at once: the old groups leave
// their load balancers.
func multiCloudPipeline(a *awsEnv, p *gcpEnv) string {
	awsTarget, gcpTarget := multiCloudTargets(a, p, "None")
	gcpTarget = replaceImage(gcpTarget)
	return `
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: release}
spec:
  application: shop
  limitConcurrent: true
  parameters: [{name: awsImage, required: true}, {name: gcpImage, required: true}]
  stages:
  - name: deploy-aws
    deploy:
      clusters:` + awsTarget + `
  - name: deploy-gcp
    deploy:
      clusters:` + gcpTarget + `
  - name: go-no-go
    dependsOn: [deploy-aws, deploy-gcp]
    manualJudgment: {instructions: "The new version runs beside the old one in both clouds: Continue moves all traffic to it."}
  - name: shift-aws
    dependsOn: [go-no-go]
    disableServerGroup: {cluster: shop-main, account: ` + a.account + `, region: us-east-1, target: Previous}
  - name: shift-gcp
    dependsOn: [go-no-go]
    disableServerGroup: {cluster: shop-main, account: ` + p.account + `, region: ` + gcpRegion + `, target: Previous}
`
}

// bootstrapPipeline makes the first version in both clouds, red/black.
func bootstrapPipeline(a *awsEnv, p *gcpEnv) string {
	awsTarget, gcpTarget := multiCloudTargets(a, p, "RedBlack")
	return `
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: bootstrap}
spec:
  application: shop
  parameters: [{name: awsImage, required: true}, {name: gcpImage, required: true}]
  stages:
  - name: deploy
    deploy:
      clusters:` + awsTarget + replaceImage(gcpTarget) + "\n"
}

// replaceImage makes a GCP target take the gcpImage parameter.
func replaceImage(target string) string {
	return strings.ReplaceAll(target, "parameters.image", "parameters.gcpImage")
}

// One Pipeline deploys to AWS and GCP in parallel; one judgment holds both traffic shifts, which then
// happen together.
func TestMultiCloudPipelineWithOneJudgment(t *testing.T) {
	g := testenv.NewWithT(t)
	a := setupAWS(t, false)
	p := setupGCPIn(t, a.ns, a.logs, gcpSimOptions())
	m := a.manager()
	m.Controllers = controllers.Options{
		Providers: map[v1alpha1.Provider]cloud.Provider{
			v1alpha1.ProviderAWS: &awscloud.Provider{MaxBackoff: 20 * time.Millisecond},
			v1alpha1.ProviderGCP: p.provider(),
		},
		ServerGroupPoll:  100 * time.Millisecond,
		CloudMaxBackoff:  500 * time.Millisecond,
		CloudSlowBackoff: 200 * time.Millisecond,
	}
	env.StartManagerWith(t, m)

	apply(t, a.ns, bootstrapPipeline(a, p))
	run(t, a.ns, "v0", "bootstrap", map[string]string{"awsImage": "ami-00000000000000001", "gcpImage": gcpImage(1)})
	waitPhase(g, a.ns, "v0", v1alpha1.ExecutionSucceeded)

	apply(t, a.ns, multiCloudPipeline(a, p))
	run(t, a.ns, "r1", "release", map[string]string{"awsImage": "ami-00000000000000002", "gcpImage": gcpImage(2)})
	ex := waitStagePhase(g, a.ns, "r1", "go-no-go", v1alpha1.StageWaitingForJudgment)
	aws, gcp := stageOf(g, ex, "deploy-aws"), stageOf(g, ex, "deploy-gcp")
	// Stage times have a resolution of a second.
	g.Expect(!aws.StartTime.After(gcp.EndTime.Time) && !gcp.StartTime.After(aws.EndTime.Time)).To(BeTrue(),
		"the deploys did not overlap: aws %v-%v, gcp %v-%v", aws.StartTime, aws.EndTime, gcp.StartTime, gcp.EndTime)

	// Until the judgment, the old groups keep their traffic in both clouds, beside the new ones. The
	// clusters of both clouds share the namespace, hence the ServerGroups' version numbers.
	byCloud := func(g Gomega) map[string]map[string]v1alpha1.Traffic {
		out := map[string]map[string]v1alpha1.Traffic{"aws": {}, "gcp": {}}
		for name, st := range groups(g, a.ns) {
			if getGroup(g, a.ns, name).Spec.GCP != nil {
				out["gcp"][name] = st.Traffic
			} else {
				out["aws"][name] = st.Traffic
			}
		}
		return out
	}
	awsOld, awsNew := outputs(g, aws)["previousServerGroup"].(string), outputs(g, aws)["serverGroup"].(string)
	gcpOld, gcpNew := outputs(g, gcp)["previousServerGroup"].(string), outputs(g, gcp)["serverGroup"].(string)
	g.Expect([]string{awsOld, gcpOld, awsNew, gcpNew}).NotTo(ContainElement(""))
	on := v1alpha1.TrafficEnabled
	g.Consistently(func(g Gomega) {
		g.Expect(byCloud(g)).To(Equal(map[string]map[string]v1alpha1.Traffic{
			"aws": {awsOld: on, awsNew: on}, "gcp": {gcpOld: on, gcpNew: on}}))
		g.Expect(stageOf(g, execution(g, a.ns, "r1"), "shift-aws").Phase).To(Equal(v1alpha1.StageNotStarted))
	}, "1s", "100ms").Should(Succeed())
	g.Expect(p.backends()).To(ConsistOf(gcpOld, gcpNew))
	g.Expect(a.healthyTargets()).To(Equal(6))
	out, err := env.Kubectl("get", "servergroups", "-n", a.ns)
	g.Expect(err).NotTo(HaveOccurred(), out)
	t.Logf("kubectl get servergroups, waiting for the judgment:\n%s", out)

	g.Expect(judge(env.Client, a.ns, "r1", `{"spec":{"judgments":{"go-no-go":{"decision":"Continue"}}}}`)).To(Succeed())
	ex = waitPhase(g, a.ns, "r1", v1alpha1.ExecutionSucceeded)
	off := v1alpha1.TrafficDisabled
	g.Expect(byCloud(g)).To(Equal(map[string]map[string]v1alpha1.Traffic{
		"aws": {awsOld: off, awsNew: on}, "gcp": {gcpOld: off, gcpNew: on}}))
	g.Expect(p.backends()).To(Equal([]string{gcpNew}))
	old, _ := a.sim.Group(awsOld)
	g.Expect(old.TargetGroupARNs).To(BeEmpty())
	judged := stageOf(g, ex, "go-no-go").EndTime
	for _, s := range []string{"shift-aws", "shift-gcp"} {
		g.Expect(stageOf(g, ex, s).StartTime.Before(judged)).To(BeFalse(), "%s started before the judgment", s)
	}
}

// The sample multi-cloud Pipeline (config/samples), on the simulators: the first run only brings the
// first version up once judged; on the second, Stop rolls both clouds back to it.
func TestMultiCloudSamplePipeline(t *testing.T) {
	g := testenv.NewWithT(t)
	a := setupAWS(t, false)
	p := setupGCPIn(t, a.ns, a.logs, gcpSimOptions())
	m := a.manager()
	m.Controllers.Providers = map[v1alpha1.Provider]cloud.Provider{
		v1alpha1.ProviderAWS: &awscloud.Provider{MaxBackoff: 20 * time.Millisecond},
		v1alpha1.ProviderGCP: p.provider(),
	}
	env.StartManagerWith(t, m)
	sample, err := os.ReadFile(filepath.Join(env.Root, "config", "samples", "delivery_v1alpha1_pipeline_multi_cloud_gcp.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	manifest := strings.NewReplacer("account: aws-sim", "account: "+a.account, "account: gcp-sim", "account: "+p.account,
		"backendServices: [shop-web]", "backendServices: ["+gcpBackend+"]",
		"targetgroup/shop-web/0123456789abcdef", targetGroup[strings.Index(targetGroup, "targetgroup/"):]).Replace(string(sample))
	apply(t, a.ns, manifest)

	params := map[string]string{"awsImage": "ami-00000000000000001", "gcpImage": gcpImage(1)}
	run(t, a.ns, "first", "multi-cloud-release", params)
	waitStagePhase(g, a.ns, "first", "go-no-go", v1alpha1.StageWaitingForJudgment)
	g.Expect(judge(env.Client, a.ns, "first", `{"spec":{"judgments":{"go-no-go":{"decision":"Continue"}}}}`)).To(Succeed())
	ex := waitPhase(g, a.ns, "first", v1alpha1.ExecutionSucceeded)
	first := map[string]string{}
	for _, s := range []string{"deploy-aws", "deploy-gcp"} {
		first[s] = outputs(g, stageOf(g, ex, s))["serverGroup"].(string)
	}
	g.Expect(stageOf(g, ex, "shift-gcp").Phase).To(Equal(v1alpha1.StageSkipped))

	params["gcpImage"] = gcpImage(2)
	run(t, a.ns, "second", "multi-cloud-release", params)
	waitStagePhase(g, a.ns, "second", "go-no-go", v1alpha1.StageWaitingForJudgment)
	g.Expect(p.backends()).To(HaveLen(2))
	g.Expect(judge(env.Client, a.ns, "second", `{"spec":{"judgments":{"go-no-go":{"decision":"Stop"}}}}`)).To(Succeed())
	g.Eventually(func(g Gomega) {
		ex := execution(g, a.ns, "second")
		g.Expect(stageOf(g, ex, "rollback-gcp").Phase).To(Equal(v1alpha1.StageSucceeded))
		g.Expect(stageOf(g, ex, "rollback-aws").Phase).To(Equal(v1alpha1.StageSucceeded))
	}, "60s").Should(Succeed())
	g.Expect(p.backends()).To(Equal([]string{first["deploy-gcp"]}))
	st := groups(g, a.ns)
	g.Expect(st[first["deploy-aws"]].Traffic).To(Equal(v1alpha1.TrafficEnabled))
	g.Expect(st[first["deploy-gcp"]].Traffic).To(Equal(v1alpha1.TrafficEnabled))
}
