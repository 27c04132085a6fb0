package controllers_test

import (
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

// threeCloudPipelines are the bootstrap (the first version everywhere, red/black) and the release of
// cluster shop-main in an AWS, a GCP and an Azure account. The release brings the new version up beside
// the old one in the three clouds at once, waits for one person's go/no-go, and then either moves all
// traffic to it in the three clouds (Continue: the old groups leave their load balancers) or rolls the
// three clusters back (Stop: the new groups leave them).
func threeCloudPipelines(a *awsEnv, p *gcpEnv, z *azureEnv) (bootstrap, release string) {
	targets := func(strategy string) (aws, gcp, azure string) {
		aws, gcp = multiCloudTargets(a, p, strategy)
		return aws, replaceImage(gcp), strings.ReplaceAll(z.deployTarget(strategy, ""), "parameters.image", "parameters.azureImage")
	}
	params := `[{name: awsImage, required: true}, {name: gcpImage, required: true}, {name: azureImage, required: true}]`
	aws, gcp, azure := targets("RedBlack")
	bootstrap = `
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: bootstrap}
spec:
  application: shop
  parameters: ` + params + `
  stages:
  - name: deploy
    deploy:
      clusters:` + aws + gcp + azure + "\n"

	aws, gcp, azure = targets("None")
	clusters := map[string]string{
		"aws":   "account: " + a.account + ", region: us-east-1",
		"gcp":   "account: " + p.account + ", region: " + gcpRegion,
		"azure": "account: " + z.account + ", region: " + azureRegion,
	}
	release = `
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: release}
spec:
  application: shop
  limitConcurrent: true
  parameters: ` + params + `
  stages:
  - name: deploy-aws
    deploy:
      clusters:` + aws + `
  - name: deploy-gcp
    deploy:
      clusters:` + gcp + `
  - name: deploy-azure
    deploy:
      clusters:` + azure + `
  - name: go-no-go
    dependsOn: [deploy-aws, deploy-gcp, deploy-azure]
    onFailure: Continue
    manualJudgment: {instructions: "The new version runs beside the old one in AWS, GCP and Azure: Continue moves all traffic to it, Stop rolls the three back."}
`
	for _, c := range []string{"aws", "gcp", "azure"} {
		release += `
  - name: shift-` + c + `
    dependsOn: [go-no-go]
    when: "stages['go-no-go'].outputs.decision == 'Continue'"
    disableServerGroup: {cluster: shop-main, ` + clusters[c] + `, target: Previous}
  - name: rollback-` + c + `
    dependsOn: [go-no-go]
    when: "stages['go-no-go'].outputs.decision == 'Stop'"
    rollbackCluster: {cluster: shop-main, ` + clusters[c] + `}
`
	}
	return bootstrap, release
}

// One Pipeline deploys to AWS, GCP and Azure in parallel and one judgment decides for the three: Continue
// shifts the traffic in the three clouds, Stop rolls the three back.
func TestThreeCloudPipelineWithOneJudgment(t *testing.T) {
	g := testenv.NewWithT(t)
	a := setupAWS(t, false)
	p := setupGCPIn(t, a.ns, a.logs, gcpSimOptions())
	z := setupAzureIn(t, a.ns, a.logs, azureSimOptions())
	m := a.manager()
	m.Controllers = controllers.Options{
		Providers: map[v1alpha1.Provider]cloud.Provider{
			v1alpha1.ProviderAWS:   &awscloud.Provider{MaxBackoff: 20 * time.Millisecond},
			v1alpha1.ProviderGCP:   p.provider(),
			v1alpha1.ProviderAzure: z.provider(),
		},
		ServerGroupPoll:  100 * time.Millisecond,
		CloudMaxBackoff:  500 * time.Millisecond,
		CloudSlowBackoff: 200 * time.Millisecond,
	}
	env.StartManagerWith(t, m)

	bootstrap, release := threeCloudPipelines(a, p, z)
	apply(t, a.ns, bootstrap)
	apply(t, a.ns, release)
	images := func(n int) map[string]string {
		return map[string]string{"awsImage": "ami-0000000000000000" + string(rune('0'+n)), "gcpImage": gcpImage(n), "azureImage": azureImage(n)}
	}
	run(t, a.ns, "v0", "bootstrap", images(1))
	waitPhase(g, a.ns, "v0", v1alpha1.ExecutionSucceeded)

	// byCloud maps each cloud to its ServerGroups' observed traffic. The clusters of the three clouds
	// share the namespace, hence the ServerGroups' version numbers.
	byCloud := func(g Gomega) map[string]map[string]v1alpha1.Traffic {
		out := map[string]map[string]v1alpha1.Traffic{"aws": {}, "gcp": {}, "azure": {}}
		for name, st := range groups(g, a.ns) {
			switch sg := getGroup(g, a.ns, name); {
			case sg.Spec.GCP != nil:
				out["gcp"][name] = st.Traffic
			case sg.Spec.Azure != nil:
				out["azure"][name] = st.Traffic
			default:
				out["aws"][name] = st.Traffic
			}
		}
		return out
	}
	on, off := v1alpha1.TrafficEnabled, v1alpha1.TrafficDisabled
	clouds := []string{"aws", "gcp", "azure"}

	// release runs the release pipeline up to the judgment and returns, per cloud, the old and the new
	// server group; until the judgment both take traffic in every cloud.
	release3 := func(name string, n int) (old, new map[string]string) {
		run(t, a.ns, name, "release", images(n))
		ex := waitStagePhase(g, a.ns, name, "go-no-go", v1alpha1.StageWaitingForJudgment)
		old, new = map[string]string{}, map[string]string{}
		want := map[string]map[string]v1alpha1.Traffic{}
		var deploys []v1alpha1.StageStatus
		for _, c := range clouds {
			st := stageOf(g, ex, "deploy-"+c)
			deploys = append(deploys, st)
			old[c], new[c] = outputs(g, st)["previousServerGroup"].(string), outputs(g, st)["serverGroup"].(string)
			g.Expect([]string{old[c], new[c]}).NotTo(ContainElement(""), c)
			want[c] = map[string]v1alpha1.Traffic{old[c]: on, new[c]: on}
		}
		// The three deploys ran at once (stage times have a resolution of a second).
		for _, x := range deploys {
			for _, y := range deploys {
				g.Expect(x.StartTime.After(y.EndTime.Time)).To(BeFalse(), "%s started after %s ended", x.Name, y.Name)
			}
		}
		g.Consistently(func(g Gomega) {
			got := byCloud(g)
			for _, c := range clouds {
				for sg := range got[c] {
					if sg != old[c] && sg != new[c] {
						delete(got[c], sg) // older, disabled versions
					}
				}
			}
			g.Expect(got).To(Equal(want))
		}, "1s", "100ms").Should(Succeed())
		g.Expect(a.healthyTargets()).To(Equal(6))
		g.Expect(z.poolHealthy()).To(Equal(6))
		g.Expect(p.backends()).To(ConsistOf(old["gcp"], new["gcp"]))
		return old, new
	}
	traffic := func(g Gomega, old, new map[string]string) map[string][]v1alpha1.Traffic {
		got, out := byCloud(g), map[string][]v1alpha1.Traffic{}
		for _, c := range clouds {
			out[c] = []v1alpha1.Traffic{got[c][old[c]], got[c][new[c]]}
		}
		return out
	}

	// Continue: the traffic moves to the new version in the three clouds, only after the judgment.
	old, new := release3("r1", 2)
	g.Expect(judge(env.Client, a.ns, "r1", `{"spec":{"judgments":{"go-no-go":{"decision":"Continue"}}}}`)).To(Succeed())
	ex := waitPhase(g, a.ns, "r1", v1alpha1.ExecutionSucceeded)
	g.Expect(traffic(g, old, new)).To(Equal(map[string][]v1alpha1.Traffic{"aws": {off, on}, "gcp": {off, on}, "azure": {off, on}}))
	judged := stageOf(g, ex, "go-no-go").EndTime
	for _, c := range clouds {
		st := stageOf(g, ex, "shift-"+c)
		g.Expect(st.Phase).To(Equal(v1alpha1.StageSucceeded), c)
		g.Expect(st.StartTime.Before(judged)).To(BeFalse(), "shift-%s started before the judgment", c)
		g.Expect(stageOf(g, ex, "rollback-"+c).Phase).To(Equal(v1alpha1.StageSkipped), c)
	}
	g.Expect(p.backends()).To(Equal([]string{new["gcp"]}))
	g.Expect(z.poolHealthy()).To(Equal(3))
	v, _ := z.sim.ScaleSet(old["azure"])
	g.Expect(v.Pools).To(BeEmpty())

	// Stop: the three clusters are rolled back, the new version leaves the load balancers everywhere.
	old, new = release3("r2", 3)
	g.Expect(judge(env.Client, a.ns, "r2", `{"spec":{"judgments":{"go-no-go":{"decision":"Stop"}}}}`)).To(Succeed())
	g.Eventually(func(g Gomega) {
		ex := execution(g, a.ns, "r2")
		g.Expect(ex.Status.CompletionTime).NotTo(BeNil(), "stages: %v", phases(ex))
		for _, c := range clouds {
			g.Expect(stageOf(g, ex, "rollback-"+c).Phase).To(Equal(v1alpha1.StageSucceeded), c)
			g.Expect(stageOf(g, ex, "shift-"+c).Phase).To(Equal(v1alpha1.StageSkipped), c)
		}
		g.Expect(traffic(g, old, new)).To(Equal(map[string][]v1alpha1.Traffic{"aws": {on, off}, "gcp": {on, off}, "azure": {on, off}}))
	}, "60s").Should(Succeed())
	g.Expect(p.backends()).To(Equal([]string{old["gcp"]}))
	g.Expect(z.poolHealthy()).To(Equal(3))
	g.Expect(a.healthyTargets()).To(Equal(3))
	v, _ = z.sim.ScaleSet(new["azure"])
	g.Expect(v.Pools).To(BeEmpty())
}
