package v1alpha1_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/test/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

// Valid manifests the invalid cases start from. Each case replaces part of one with something wrong.
const (
	validAccount = `
apiVersion: delivery.gennaker.io/v1alpha1
kind: CloudAccount
metadata: {name: NAME}
spec:
  provider: aws
  aws: {regions: [us-east-1]}
`
	validServerGroup = `
apiVersion: delivery.gennaker.io/v1alpha1
kind: ServerGroup
metadata: {name: NAME}
spec:
  application: shop
  stack: main
  account: aws-prod
  region: us-east-1
  capacity: {min: 1, max: 3, desired: 2}
  aws: {imageID: ami-0abc}
`
	gcpZonal = `
apiVersion: delivery.gennaker.io/v1alpha1
kind: ServerGroup
metadata: {name: NAME}
spec:
  application: shop
  stack: main
  account: gcp-prod
  region: europe-west1
  zones: [europe-west1-b]
  capacity: {min: 1, max: 3, desired: 2}
  gcp: {image: debian-12, machineType: e2-small}
`
	validPipeline = `
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: NAME}
spec:
  application: shop
  stages:
  - name: first
    wait: {duration: 1s}
`
	validExecution = `
apiVersion: delivery.gennaker.io/v1alpha1
kind: Execution
metadata: {name: NAME}
spec:
  pipeline: demo
  parameters: {image: ami-0abc}
  judgments:
    go-no-go: {decision: Continue, input: ship}
`
)

// TestSchemaRejectsInvalidManifests applies what a user could write wrong and checks that the API server
// refuses it at once, with a message that names the field. The messages are the product here, so the test
// compares their text.
func TestSchemaRejectsInvalidManifests(t *testing.T) {
	// The schema alone: the webhooks, which read other objects (the run's Pipeline, the group's account),
	// are tested with the controllers.
	ns := env.NamespaceWithoutAdmission(t)
	cases := map[string]struct {
		// manifest is created; it must be rejected unless update is set.
		manifest string
		// update, if set, replaces manifest's spec after manifest was created, and must be rejected.
		update string
		// want are fragments of the error: the field path first, then the message.
		want []string
	}{
		"account: unknown provider": {
			manifest: strings.Replace(validAccount, "provider: aws", "provider: oracle", 1),
			want:     []string{`spec.provider: Unsupported value: "oracle"`, `"aws", "gcp", "azure"`},
		},
		"account: provider without its block": {
			manifest: strings.Replace(validAccount, "aws: {regions: [us-east-1]}", "gcp: {project: my-project}", 1),
			want:     []string{"spec.aws", "aws must be set when provider is aws, and only then"},
		},
		"account: two provider blocks": {
			manifest: validAccount + "  gcp: {project: my-project}\n",
			want:     []string{"spec.gcp", "gcp must be set when provider is gcp, and only then"},
		},
		"account: Secret source without secretRef": {
			manifest: validAccount + "  credentials: {source: Secret}\n",
			want:     []string{"spec.credentials.secretRef", "secretRef is required when source is Secret"},
		},
		"account: plain http endpoint to a remote host": {
			manifest: strings.Replace(validAccount, "regions: [us-east-1]", "regions: [us-east-1], endpoint: 'http://aws.example.com'", 1),
			want:     []string{"spec.aws.endpoint", "must be an https URL, or an http URL to a loopback address"},
		},
		"account: malformed region": {
			manifest: strings.Replace(validAccount, "us-east-1", "US_EAST_1", 1),
			want:     []string{"spec.aws.regions[0]", "should match"},
		},
		"account: allowed namespace that is no namespace name": {
			manifest: validAccount + "  allowedNamespaces: [Shop_Team]\n",
			want:     []string{"spec.allowedNamespaces[0]", "should match"},
		},
		"account: azure subscription that is not a UUID": {
			manifest: `
apiVersion: delivery.gennaker.io/v1alpha1
kind: CloudAccount
metadata: {name: NAME}
spec:
  provider: azure
  azure: {subscriptionID: my-sub, tenantID: 00000000-0000-0000-0000-000000000000, clientID: 00000000-0000-0000-0000-000000000000, resourceGroup: rg}
`,
			want: []string{"spec.azure.subscriptionID", "should match"},
		},
		"server group: capacity min above max": {
			manifest: strings.Replace(validServerGroup, "{min: 1, max: 3, desired: 2}", "{min: 5, max: 3, desired: 4}", 1),
			want:     []string{"spec.capacity.min", "min must be at most max"},
		},
		"server group: desired above max": {
			manifest: strings.Replace(validServerGroup, "desired: 2", "desired: 7", 1),
			want:     []string{"spec.capacity.desired", "desired must be at most max"},
		},
		"server group: negative capacity": {
			manifest: strings.Replace(validServerGroup, "min: 1", "min: -1", 1),
			want:     []string{"spec.capacity.min", "should be greater than or equal to 0"},
		},
		"server group: hyphen in application": {
			manifest: strings.Replace(validServerGroup, "application: shop", "application: web-shop", 1),
			want:     []string{"spec.application", "should match '^[a-z0-9]+$'"},
		},
		"server group: upper case in stack": {
			manifest: strings.Replace(validServerGroup, "stack: main", "stack: Main", 1),
			want:     []string{"spec.stack", "should match"},
		},
		"server group: detail ending in a hyphen": {
			manifest: validServerGroup + "  detail: canary-\n",
			want:     []string{"spec.detail", "should match"},
		},
		"server group: no cloud block": {
			manifest: strings.Replace(validServerGroup, "  aws: {imageID: ami-0abc}\n", "", 1),
			want:     []string{"spec", "exactly one of aws, gcp or azure must be set"},
		},
		"server group: two cloud blocks": {
			manifest: validServerGroup + "  gcp: {image: debian-12}\n",
			want:     []string{"spec", "exactly one of aws, gcp or azure must be set"},
		},
		"server group: unknown traffic state": {
			manifest: validServerGroup + "  traffic: Paused\n",
			want:     []string{`spec.traffic: Unsupported value: "Paused"`, `"Enabled", "Disabled"`},
		},
		"server group: account changed": {
			manifest: validServerGroup,
			update:   strings.Replace(validServerGroup, "account: aws-prod", "account: aws-staging", 1),
			want:     []string{"spec.account", "account is immutable"},
		},
		"server group: image changed": {
			manifest: validServerGroup,
			update:   strings.Replace(validServerGroup, "ami-0abc", "ami-0def", 1),
			want:     []string{"spec.aws", "imageID, instanceType and launchTemplate are immutable", "deploy a new one"},
		},
		"server group: launch template added": {
			manifest: validServerGroup,
			update:   strings.Replace(validServerGroup, "aws: {imageID: ami-0abc}", "aws: {imageID: ami-0abc, launchTemplate: {name: shop-web}}", 1),
			want:     []string{"spec.aws", "imageID, instanceType and launchTemplate are immutable"},
		},
		"server group: gcp zones changed": {
			manifest: gcpZonal,
			update:   strings.Replace(gcpZonal, "zones: [europe-west1-b]", "zones: [europe-west1-b, europe-west1-c]", 1),
			want:     []string{"spec.zones", "zones is immutable for a gcp server group"},
		},
		"server group: gcp zones removed": {
			manifest: gcpZonal,
			update:   strings.Replace(gcpZonal, "  zones: [europe-west1-b]\n", "", 1),
			want:     []string{"spec.zones", "zones is immutable for a gcp server group"},
		},
		"server group: detail added": {
			manifest: validServerGroup,
			update:   validServerGroup + "  detail: canary\n",
			want:     []string{"spec.detail", "detail is immutable"},
		},
		"server group: not a Frigga name": {
			manifest: strings.Replace(validServerGroup, "{name: NAME}", "{name: eks-nodegroup-1}", 1),
			want:     []string{"metadata.name", "must be the Frigga name shop-main-vNNN"},
		},
		"server group: named after another cluster": {
			manifest: strings.Replace(validServerGroup, "{name: NAME}", "{name: shop-canary-v001}", 1),
			want:     []string{"metadata.name", "must be the Frigga name shop-main-vNNN"},
		},
		"server group: version without three digits": {
			manifest: strings.Replace(validServerGroup, "{name: NAME}", "{name: shop-main-v1}", 1),
			want:     []string{"metadata.name", "must be the Frigga name shop-main-vNNN"},
		},
		"server group: unknown deletion policy": {
			manifest: validServerGroup + "  deletionPolicy: Keep\n",
			want:     []string{`spec.deletionPolicy: Unsupported value: "Keep"`, `"Delete", "Orphan"`},
		},
		"server group: unknown desired drift": {
			manifest: validServerGroup + "  desiredDrift: Ignore\n",
			want:     []string{`spec.desiredDrift: Unsupported value: "Ignore"`, `"Tolerate", "Correct"`},
		},
		"pipeline: a stage runs its own pipeline": {
			manifest: validPipeline + "  - name: again\n    pipeline: {name: NAME}\n",
			want:     []string{"spec.stages", "a pipeline stage cannot run its own pipeline"},
		},
		"pipeline: two stage types in one stage": {
			manifest: validPipeline + "    manualJudgment: {instructions: Ready}\n",
			want:     []string{"spec.stages[0]", "exactly one stage type must be set"},
		},
		"pipeline: stage without a type": {
			manifest: strings.Replace(validPipeline, "    wait: {duration: 1s}\n", "    timeout: 1m\n", 1),
			want:     []string{"spec.stages[0]", "exactly one stage type must be set"},
		},
		"pipeline: dependsOn a missing stage": {
			manifest: validPipeline + "  - name: second\n    dependsOn: [frist]\n    wait: {duration: 1s}\n",
			want:     []string{"spec.stages", "every dependsOn must name a stage of this pipeline"},
		},
		"pipeline: duplicate stage names": {
			manifest: validPipeline + "  - name: first\n    wait: {duration: 2s}\n",
			want:     []string{"spec.stages[1]", "Duplicate value"},
		},
		"pipeline: stage depends on itself": {
			manifest: strings.Replace(validPipeline, "  - name: first\n", "  - name: first\n    dependsOn: [first]\n", 1),
			want:     []string{"spec.stages[0].dependsOn", "a stage cannot depend on itself"},
		},
		"pipeline: stage name that is no DNS label": {
			manifest: strings.Replace(validPipeline, "name: first", "name: Go_No_Go", 1),
			want:     []string{"spec.stages[0].name", "should match"},
		},
		"pipeline: duration without a unit": {
			manifest: strings.Replace(validPipeline, "duration: 1s", "duration: '30'", 1),
			want:     []string{"spec.stages[0].wait.duration", "should match"},
		},
		"pipeline: unknown onFailure": {
			manifest: strings.Replace(validPipeline, "  - name: first\n", "  - name: first\n    onFailure: Ignore\n", 1),
			want:     []string{`spec.stages[0].onFailure: Unsupported value: "Ignore"`, `"Fail", "Continue", "FailAfterBranches"`},
		},
		"pipeline: window opening at 25:00": {
			manifest: strings.Replace(validPipeline, "  - name: first\n", "  - name: first\n    window: {from: '25:00', to: '17:00'}\n", 1),
			want:     []string{"spec.stages[0].window.from", "should match"},
		},
		"pipeline: window on Monday spelled out": {
			manifest: strings.Replace(validPipeline, "  - name: first\n", "  - name: first\n    window: {days: [Monday], from: '09:00', to: '17:00'}\n", 1),
			want:     []string{`spec.stages[0].window.days[0]: Unsupported value: "Monday"`, `"Mon"`},
		},
		"pipeline: unknown deploy strategy": {
			manifest: strings.Replace(validPipeline, "    wait: {duration: 1s}\n", `    deploy:
      clusters:
      - {account: aws-prod, region: us-east-1, capacity: {min: 1, max: 1, desired: 1}, strategy: Canary, aws: {imageID: ami-1}}
`, 1),
			want: []string{`spec.stages[0].deploy.clusters[0].strategy: Unsupported value: "Canary"`},
		},
		"pipeline: redBlack options on a Highlander deploy": {
			manifest: strings.Replace(validPipeline, "    wait: {duration: 1s}\n", `    deploy:
      clusters:
      - {account: aws-prod, region: us-east-1, capacity: {min: 1, max: 1, desired: 1}, strategy: Highlander, redBlack: {scaleDown: false}, aws: {imageID: ami-1}}
`, 1),
			want: []string{"spec.stages[0].deploy.clusters[0].redBlack", "redBlack may only be set when strategy is RedBlack"},
		},
		"pipeline: deploy target with no cloud block": {
			manifest: strings.Replace(validPipeline, "    wait: {duration: 1s}\n", `    deploy:
      clusters:
      - {account: aws-prod, region: us-east-1, capacity: {min: 1, max: 1, desired: 1}}
`, 1),
			want: []string{"spec.stages[0].deploy.clusters[0]", "exactly one of aws, gcp or azure must be set"},
		},
		"pipeline: parameter default outside its options": {
			manifest: validPipeline + "  parameters:\n  - {name: env, default: qa, options: [staging, prod]}\n",
			want:     []string{"spec.parameters[0].default", "default must be one of options"},
		},
		"pipeline: parameter name that is no identifier": {
			manifest: validPipeline + "  parameters:\n  - {name: image-id}\n",
			want:     []string{"spec.parameters[0].name", "should match"},
		},
		"pipeline: no stages": {
			manifest: strings.Replace(validPipeline, "  stages:\n  - name: first\n    wait: {duration: 1s}\n", "  stages: []\n", 1),
			want:     []string{"spec.stages", "should have at least 1 items"},
		},
		"pipeline: server group target by name and by cluster": {
			manifest: strings.Replace(validPipeline, "    wait: {duration: 1s}\n",
				"    enableServerGroup: {serverGroup: shop-main-v001, cluster: shop-main, account: aws-prod, region: us-east-1, target: Newest}\n", 1),
			want: []string{"spec.stages[0].enableServerGroup", "exactly one of serverGroup or cluster must be set"},
		},
		"pipeline: cluster target without Newest, Previous or Oldest": {
			manifest: strings.Replace(validPipeline, "    wait: {duration: 1s}\n",
				"    disableServerGroup: {cluster: shop-main, account: aws-prod, region: us-east-1}\n", 1),
			want: []string{"spec.stages[0].disableServerGroup.target", "target (Newest, Previous or Oldest) is required with cluster"},
		},
		"pipeline: unknown webhook method": {
			manifest: strings.Replace(validPipeline, "    wait: {duration: 1s}\n", "    webhook: {url: 'https://example.com', method: FETCH}\n", 1),
			want:     []string{`spec.stages[0].webhook.method: Unsupported value: "FETCH"`},
		},
		"pipeline: negative history limit": {
			manifest: validPipeline + "  historyLimit: -1\n",
			want:     []string{"spec.historyLimit", "should be greater than or equal to 0"},
		},
		"execution: decision that is neither Continue nor Stop": {
			manifest: strings.Replace(validExecution, "decision: Continue", "decision: Approve", 1),
			want:     []string{`spec.judgments.go-no-go.decision: Unsupported value: "Approve"`, `"Continue", "Stop"`},
		},
		"execution: decided judgment changed": {
			manifest: validExecution,
			update:   strings.Replace(validExecution, "decision: Continue", "decision: Stop", 1),
			want:     []string{"spec.judgments[go-no-go]", "a judgment, once made, cannot be changed"},
		},
		"execution: decided judgment removed": {
			manifest: validExecution,
			update:   strings.Replace(validExecution, "  judgments:\n    go-no-go: {decision: Continue, input: ship}\n", "  judgments: {}\n", 1),
			want:     []string{"spec.judgments", "a judgment, once made, cannot be removed"},
		},
		"execution: cancel undone": {
			manifest: validExecution + "  cancel: true\n",
			update:   validExecution + "  cancel: false\n",
			want:     []string{"spec.cancel", "a canceled execution cannot be resumed"},
		},
		"execution: pipeline changed": {
			manifest: validExecution,
			update:   strings.Replace(validExecution, "pipeline: demo", "pipeline: other", 1),
			want:     []string{"spec.pipeline", "pipeline is immutable"},
		},
		"execution: parameters changed": {
			manifest: validExecution,
			update:   strings.Replace(validExecution, "ami-0abc", "ami-0def", 1),
			want:     []string{"spec.parameters", "parameters are immutable"},
		},
		"execution: no pipeline": {
			manifest: strings.Replace(validExecution, "  pipeline: demo\n", "", 1),
			want:     []string{"spec.pipeline", "Required value"},
		},
	}
	i := 0
	for name, tc := range cases {
		i++
		objName := fmt.Sprintf("case-%d", i)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			g := NewWithT(t)
			ctx := context.Background()
			obj := object(g, tc.manifest, ns, objName)
			err := env.Client.Create(ctx, obj)
			if tc.update != "" {
				g.Expect(err).NotTo(HaveOccurred(), "the manifest before the update must be valid")
				changed := object(g, tc.update, ns, objName)
				changed.SetName(obj.GetName())
				changed.SetResourceVersion(obj.GetResourceVersion())
				err = env.Client.Update(ctx, changed)
			}
			g.Expect(err).To(HaveOccurred(), "the API server accepted an invalid manifest")
			t.Log(err)
			for _, w := range tc.want {
				g.Expect(err.Error()).To(ContainSubstring(w))
			}
		})
	}
}

// object reads a manifest, named name in namespace ns unless its kind is cluster-scoped. A ServerGroup
// named NAME gets the Frigga name of its cluster instead, with name's number as its version.
func object(g Gomega, manifest, ns, name string) *unstructured.Unstructured {
	var u unstructured.Unstructured
	placeholder := strings.Contains(manifest, "{name: NAME}")
	g.Expect(yaml.Unmarshal([]byte(strings.ReplaceAll(manifest, "NAME", name)), &u.Object)).To(Succeed())
	switch u.GetKind() {
	case "CloudAccount":
		u.SetName(ns + "-" + name)
	case "ServerGroup":
		u.SetNamespace(ns)
		if placeholder {
			part := func(f string) string { v, _, _ := unstructured.NestedString(u.Object, "spec", f); return v }
			var n int
			_, _ = fmt.Sscanf(name[strings.LastIndex(name, "-")+1:], "%d", &n)
			u.SetName(fmt.Sprintf("%s-v%03d", v1alpha1.ClusterName(part("application"), part("stack"), part("detail")), n))
		}
	default:
		u.SetNamespace(ns)
	}
	return &u
}

// TestSchemaAcceptsValidManifests guards against rules that are too strict: each of these is something a
// user may rightly write.
func TestSchemaAcceptsValidManifests(t *testing.T) {
	// The schema, and for Pipelines the admission webhook that makes the checks the schema cannot (it reads
	// nothing else). The other kinds' webhooks read other objects (the run's Pipeline, the group's
	// account) and are tested with the controllers.
	ns := env.Namespace(t)
	cases := map[string]string{
		"account: simulator on loopback over http": strings.Replace(validAccount, "regions: [us-east-1]",
			"regions: [us-east-1], endpoint: 'http://127.0.0.1:4566'", 1),
		"account: localhost over http": strings.Replace(validAccount, "regions: [us-east-1]",
			"regions: [us-east-1], endpoint: 'http://localhost:8080/aws'", 1),
		"account: sovereign cloud over https": strings.Replace(validAccount, "regions: [us-east-1]",
			"regions: [cn-north-1], endpoint: 'https://amazonaws.com.cn'", 1),
		"account: secret credentials": validAccount + "  credentials: {source: Secret, secretRef: {namespace: ops, name: aws-creds, key: credentials}}\n",
		"account: gcp": `
apiVersion: delivery.gennaker.io/v1alpha1
kind: CloudAccount
metadata: {name: NAME}
spec:
  provider: gcp
  gcp: {project: my-project-123, impersonateServiceAccount: deployer@my-project-123.iam.gserviceaccount.com}
`,
		"server group: detail with hyphens, no stack": strings.Replace(validServerGroup, "  stack: main\n", "  detail: canary-eu-1\n", 1),
		"server group: zero instances":                strings.Replace(validServerGroup, "{min: 1, max: 3, desired: 2}", "{min: 0, max: 0, desired: 0}", 1),
		"server group: application alone":             strings.Replace(validServerGroup, "  stack: main\n", "", 1),
		"server group: orphaned, drift corrected":     validServerGroup + "  deletionPolicy: Orphan\n  desiredDrift: Correct\n",
		"pipeline: every stage type": `
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: NAME}
spec:
  application: shop
  parameters:
  - {name: image, required: true}
  - {name: env, default: staging, options: [staging, prod]}
  triggers:
  - cron: {schedule: "@hourly"}
    parameters: {image: ami-nightly}
  stages:
  - name: first
    wait: {duration: 1s}
  - name: judge
    dependsOn: [first]
    when: "parameters.env == 'prod'"
    timeout: 1h30m
    onFailure: FailAfterBranches
    window: {days: [Mon, Tue], from: "09:00", to: "17:00", timeZone: Europe/Paris}
    manualJudgment: {instructions: "Go or no go", inputs: [ship, hold], approvers: {groups: [release-managers]}}
  - name: check
    dependsOn: [judge]
    checkPreconditions: {expressions: ["stages['judge'].outputs.input == 'ship'"]}
  - name: deploy
    dependsOn: [check]
    deploy:
      clusters:
      - {account: aws-prod, region: us-east-1, stack: main, capacity: {min: 1, max: 3, desired: 2}, aws: {imageID: "${ parameters.image }"}}
      - {account: gcp-prod, region: europe-west1, capacity: {min: 1, max: 3, desired: 2}, strategy: Highlander, gcp: {image: "${ parameters.image }"}}
  - name: enable
    dependsOn: [deploy]
    enableServerGroup: {cluster: shop-main, account: aws-prod, region: us-east-1, target: Newest}
  - name: disable
    dependsOn: [enable]
    disableServerGroup: {serverGroup: shop-main-v000}
  - name: resize
    dependsOn: [disable]
    resizeServerGroup: {serverGroup: shop-main-v000, capacity: {min: 0, max: 0, desired: 0}}
  - name: destroy
    dependsOn: [resize]
    destroyServerGroup: {cluster: shop-main, account: aws-prod, region: us-east-1, target: Oldest}
  - name: rollback
    dependsOn: [destroy]
    onFailure: Continue
    rollbackCluster: {account: aws-prod, region: us-east-1, cluster: shop-main}
  - name: notify
    dependsOn: [rollback]
    webhook:
      url: https://chat.example.com/hook
      headers: {Authorization: "Bearer ${ parameters.env }"}
      body: '{"image": "${ parameters.image }"}'
      successStatuses: [200, 202]
      waitForCompletion: {statusURL: "https://ci.example.com/status", successExpression: "response.body.done == true"}
  - name: child
    dependsOn: [notify]
    pipeline: {name: smoke-tests, parameters: {env: "${ parameters.env }"}, wait: false}
`,
		"execution: judgment added later": validExecution,
	}
	i := 0
	for name, manifest := range cases {
		i++
		objName := fmt.Sprintf("valid-%d", i)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			g := NewWithT(t)
			obj := object(g, manifest, ns, objName)
			if obj.GetKind() != "Pipeline" {
				testenv.WithoutAdmission(obj)
			}
			g.Expect(env.Client.Create(context.Background(), obj)).To(Succeed())
		})
	}
}
