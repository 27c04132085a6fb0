package v1alpha1_test

import (
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

// TestSamplesApply applies config/samples the way the README tells users to, with kubectl (the quickstart's
// accounts first, as make dev applies them), and lists them through the gennaker category.
func TestSamplesApply(t *testing.T) {
	g := NewWithT(t)
	out, err := env.Kubectl("apply", "-f", filepath.Join(env.Root, "config", "samples", "quickstart"), "-f", filepath.Join(env.Root, "config", "samples"))
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(ContainSubstring("cloudaccount.delivery.gennaker.io/aws-sim created"))
	g.Expect(out).To(ContainSubstring("servergroup.delivery.gennaker.io/shop-main-v000 created"))
	g.Expect(out).To(ContainSubstring("pipeline.delivery.gennaker.io/shop-release created"))
	g.Expect(out).To(ContainSubstring("execution.delivery.gennaker.io/release-gate-demo created"))

	out, err = env.Kubectl("get", "gennaker", "-A")
	g.Expect(err).NotTo(HaveOccurred(), out)
	for _, name := range []string{"cloudaccount.delivery.gennaker.io/aws-sim", "servergroup.delivery.gennaker.io/shop-main-v000",
		"pipeline.delivery.gennaker.io/shop-release", "execution.delivery.gennaker.io/release-gate-demo"} {
		g.Expect(out).To(ContainSubstring(name))
	}

	// Defaults from the schema are filled in at apply time.
	out, err = env.Kubectl("get", "pipeline", "shop-release", "-n", "default",
		"-o", "jsonpath={.spec.stages[0].onFailure} {.spec.stages[0].deploy.clusters[0].redBlack.delayBeforeScaleDown}")
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(Equal("Fail 5m"))
	out, err = env.Kubectl("get", "pipeline", "release-gate", "-n", "default", "-o", "jsonpath={.spec.stages[2].webhook.method}")
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(Equal("POST"))
}

// TestPrinterColumns checks the columns of `kubectl get` and the short names.
func TestPrinterColumns(t *testing.T) {
	cases := map[string][]string{
		"ex": {"NAME", "PIPELINE", "PHASE", "STAGE", "WAITING", "TRIGGER", "AGE"},
		"sg": {"NAME", "ACCOUNT", "REGION", "DESIRED", "HEALTHY", "TRAFFIC", "READY", "AGE"},
		"pl": {"NAME", "STAGES", "LAST-RUN", "READY", "AGE"},
		"ca": {"NAME", "PROVIDER", "READY", "IN-USE", "AGE"},
	}
	for short, want := range cases {
		t.Run(short, func(t *testing.T) {
			g := NewWithT(t)
			// Columns only show with a row: the samples give one of each kind (apply is idempotent).
			out, err := env.Kubectl("apply", "-f", filepath.Join(env.Root, "config", "samples", "quickstart"), "-f", filepath.Join(env.Root, "config", "samples"))
			g.Expect(err).NotTo(HaveOccurred(), out)
			out, err = env.Kubectl("get", short, "-A")
			g.Expect(err).NotTo(HaveOccurred(), out)
			header := strings.Fields(strings.SplitN(out, "\n", 2)[0])
			if short != "ca" { // namespaced kinds list the namespace first with -A
				g.Expect(header[0]).To(Equal("NAMESPACE"))
				header = header[1:]
			}
			g.Expect(header).To(Equal(want))
		})
	}
}

// TestExplain checks that `kubectl explain` reads well for the fields users write most.
func TestExplain(t *testing.T) {
	cases := map[string]string{
		"pipelines.spec.stages.dependsOn":                "must finish successfully",
		"pipelines.spec.stages.manualJudgment.inputs":    "stages['<name>'].outputs.input",
		"pipelines.spec.stages.onFailure":                "what the stage's failure does to the pipeline",
		"pipelines.spec.stages.deploy.clusters.redBlack": "tunes the RedBlack strategy",
		"executions.spec.judgments":                      "kubectl patch execution NAME --type merge",
		"executions.status.stages.phase":                 "WaitingForJudgment",
		"servergroups.spec.capacity":                     "min <= desired <= max",
		"servergroups.spec.traffic":                      "Enabled puts the group in its load balancers",
		"cloudaccounts.spec.allowedNamespaces":           "Empty means none",
		"cloudaccounts.spec.credentials.source":          "Workload (the pod's own identity) or Secret",
	}
	for field, want := range cases {
		t.Run(field, func(t *testing.T) {
			g := NewWithT(t)
			out, err := env.Kubectl("explain", field)
			g.Expect(err).NotTo(HaveOccurred(), out)
			g.Expect(out).To(ContainSubstring(want))
		})
	}
}
