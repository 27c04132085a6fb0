// Package e2e holds tests of the whole product as a user runs it.
package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/gennaker/gennaker/test/testenv"
)

// TestMakeDevSmoke runs what `make dev` runs, hack/dev.sh, in its smoke-test mode: a real etcd and
// kube-apiserver with token authentication and RBAC, the CRDs and config/rbac installed, and the manager
// binary running with only that RBAC. The script applies config/samples, lists them with
// `kubectl get gennaker -A`, runs the release-gate demo (it waits for a judgment, is approved with kubectl
// patch and calls the webhook receiver) and the shop-release demo (a red/black of shop-main-v000 to v001 on
// the AWS simulator, approved the same way), fails on any RBAC "forbidden" in the manager's log, and stops
// everything.
func TestMakeDevSmoke(t *testing.T) {
	g := NewWithT(t)
	root := testenv.Root()
	k8sBin := os.Getenv("KUBEBUILDER_ASSETS")
	if k8sBin == "" {
		k8sBin = filepath.Join(root, "bin", "k8s", testenv.K8sVersion)
	}
	bin := t.TempDir()
	manager, receiver := filepath.Join(bin, "manager"), filepath.Join(bin, "receiver")
	awssim, gcpsim, azuresim := filepath.Join(bin, "awssim"), filepath.Join(bin, "gcpsim"), filepath.Join(bin, "azuresim")
	var out []byte
	var err error
	for bin, pkg := range map[string]string{
		manager: "./cmd/manager", receiver: "./test/receiver", awssim: "./test/cloudsim/cmd/awssim",
		gcpsim: "./test/cloudsim/cmd/gcpsim", azuresim: "./test/cloudsim/cmd/azuresim",
	} {
		build := exec.Command("go", "build", "-o", bin, pkg)
		build.Dir = root
		out, err = build.CombinedOutput()
		g.Expect(err).NotTo(HaveOccurred(), string(out))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dev := exec.CommandContext(ctx, "bash", filepath.Join(root, "hack", "dev.sh"))
	dev.Dir = root
	dev.Env = append(os.Environ(),
		"K8S_BIN="+k8sBin, "MANAGER="+manager, "RECEIVER="+receiver, "AWSSIM="+awssim, "GCPSIM="+gcpsim, "AZURESIM="+azuresim, "DEV_DIR="+t.TempDir(), "DEV_EXIT_AFTER_READY=1")
	// SIGTERM, not SIGKILL, on timeout: the script's trap then stops the servers it started.
	dev.Cancel = func() error { return dev.Process.Signal(syscall.SIGTERM) }
	dev.WaitDelay = 30 * time.Second
	out, err = dev.CombinedOutput()
	g.Expect(err).NotTo(HaveOccurred(), string(out))
	for _, want := range []string{
		"cloudaccount.delivery.gennaker.io/aws-prod",
		"servergroup.delivery.gennaker.io/shop-main-v000",
		"pipeline.delivery.gennaker.io/shop-release",
		"execution.delivery.gennaker.io/release-gate-demo",
		"release-gate-demo   release-gate   AwaitingJudgment",
		"release-gate-demo   release-gate   Succeeded",
		"shop-release-demo   shop-release   Running",
		"servergroup.delivery.gennaker.io/shop-main-v001",
		"smoke test passed",
	} {
		g.Expect(string(out)).To(ContainSubstring(want))
	}
	// After the approval, the old version is scaled down and out of traffic, the new one takes it.
	g.Expect(string(out)).To(MatchRegexp(`shop-main-v000\s+aws-sim\s+us-east-1\s+0\s+0\s+Disabled\s+True`))
	g.Expect(string(out)).To(MatchRegexp(`shop-main-v001\s+aws-sim\s+us-east-1\s+3\s+3\s+Enabled\s+True`))
	// The multi-cloud samples brought their first version up in every cloud and took the judgment.
	for _, want := range []string{
		`shop-edge-v\d{3}\s+aws-sim\s+us-east-1\s+2\s+2\s+Enabled\s+True`,
		`shop-edge-v\d{3}\s+gcp-sim\s+europe-west1\s+2\s+2\s+Enabled\s+True`,
		`shop-global-v\d{3}\s+aws-sim\s+us-east-1\s+2\s+2\s+Enabled\s+True`,
		`shop-global-v\d{3}\s+gcp-sim\s+europe-west1\s+2\s+2\s+Enabled\s+True`,
		`shop-global-v\d{3}\s+azure-sim\s+westeurope\s+2\s+2\s+Enabled\s+True`,
		`three-cloud-\w+\s+three-cloud-release\s+.*Succeeded`,
	} {
		g.Expect(string(out)).To(MatchRegexp(want))
	}
}
