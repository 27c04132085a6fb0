//go:build soak

// Package soak is the kill soak (make soak; not part of make test): three-cloud red/black releases with a
// judgment each run one after another while the manager, a real subprocess built from cmd/manager, is
// SIGKILLed at random points, and the three cloud simulators throttle 10% of the requests and fail 5%
// with a 5xx. At the end every run must be in the phase its judgment called for, every cloud group must
// have exactly one ServerGroup and every ServerGroup one cloud group, and the operator's metrics must
// show no more cloud errors than the simulators injected. It prints one summary line.
//
// Knobs: SOAK_KILLS (default 100) kills, SOAK_TIMEOUT (default 30m) for the whole soak, SOAK_SEED (default
// 1) for the kill points, the judgments and the faults.
package soak

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/admission"
	awssim "github.com/gennaker/gennaker/test/cloudsim/aws"
	azuresim "github.com/gennaker/gennaker/test/cloudsim/azure"
	"github.com/gennaker/gennaker/test/cloudsim/faults"
	gcpsim "github.com/gennaker/gennaker/test/cloudsim/gcp"
	"github.com/gennaker/gennaker/test/testenv"
)

// The simulated accounts.
const (
	awsKeyID, awsSecret = "AKIDGENNAKERSOAK0001", "gnkr-soak-aws-secret"
	awsTargetGroup      = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop-web/0123456789abcdef"
	gcpProject, gcpSA   = "gennaker-soak", "deployer@gennaker-soak.iam.gserviceaccount.com"
	gcpRegion           = "europe-west1"
	azSub               = "5e1e0000-0000-4000-8000-000000000001"
	azTenant            = "7e7a0000-0000-4000-8000-000000000002"
	azClient, azSecret  = "c1e70000-0000-4000-8000-000000000003", "gnkr-soak-azure-secret"
	azRegion            = "westeurope"
	azPool              = "/subscriptions/" + azSub + "/resourceGroups/net/providers/Microsoft.Network/loadBalancers/shop-web/backendAddressPools/web"
	azSubnet            = "/subscriptions/" + azSub + "/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/shop/subnets/web"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func TestKillSoak(t *testing.T) {
	kills := envInt("SOAK_KILLS", 100)
	seed := uint64(envInt("SOAK_SEED", 1))
	timeout := 30 * time.Minute
	if d, err := time.ParseDuration(os.Getenv("SOAK_TIMEOUT")); err == nil {
		timeout = d
	}
	deadline := time.Now().Add(timeout)
	g := NewWithT(t)
	began := time.Now()

	env, err := testenv.Start()
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = env.Stop() }()
	dir := t.TempDir()
	bin := filepath.Join(dir, "manager")
	build := exec.Command("go", "build", "-o", bin, "./cmd/manager")
	build.Dir = env.Root
	out, err := build.CombinedOutput()
	g.Expect(err).NotTo(HaveOccurred(), "building the manager: %s", out)
	ctx := context.Background()
	ns := env.Namespace(t)

	// The clouds, each behind random faults.
	fault := func(c faults.Cloud, h http.Handler, n uint64, spare func(*http.Request) bool) *faults.Handler {
		return faults.Wrap(h, faults.Options{Cloud: c, Throttle: 0.10, ServerError: 0.05, Seed: seed*10 + n, Spare: spare})
	}
	aws := awssim.New(awssim.Options{Keys: map[string]string{awsKeyID: awsSecret},
		LaunchDelay: 300 * time.Millisecond, TargetHealthyDelay: 300 * time.Millisecond, TerminateDelay: 100 * time.Millisecond, DeleteDelay: 200 * time.Millisecond})
	aws.AddTargetGroup(awsTargetGroup)
	awsF := fault(faults.AWS, aws, 1, nil)
	awsSrv := httptest.NewServer(awsF)
	defer awsSrv.Close()
	gcp := gcpsim.New(gcpsim.Options{Projects: []string{gcpProject},
		BootDelay: 300 * time.Millisecond, HealthyDelay: 300 * time.Millisecond, StopDelay: 100 * time.Millisecond, OperationDelay: 200 * time.Millisecond})
	gcp.AddServiceAccount(gcpSA)
	gcp.AddBackendService("shop-web")
	gcpF := fault(faults.GCP, gcp, 2, func(r *http.Request) bool { return r.URL.Path == "/token" })
	gcpSrv := httptest.NewServer(gcpF)
	defer gcpSrv.Close()
	az := azuresim.New(azuresim.Options{SubscriptionID: azSub, TenantID: azTenant, ResourceGroups: []string{"shop"},
		Clients:        map[string]string{azClient: azSecret},
		ProvisionDelay: 300 * time.Millisecond, HealthyDelay: 300 * time.Millisecond, DeleteDelay: 200 * time.Millisecond, OperationDelay: 200 * time.Millisecond})
	az.AddBackendPool(azPool)
	// Entra's endpoints are spared: the faults are for Resource Manager, whose retries are the provider's.
	azF := fault(faults.Azure, az, 3, func(r *http.Request) bool { return !strings.HasPrefix(r.URL.Path, "/subscriptions/") })
	azSrv := httptest.NewTLSServer(azF)
	defer azSrv.Close()
	caDir := filepath.Join(dir, "ca")
	g.Expect(os.MkdirAll(caDir, 0o755)).To(Succeed())
	g.Expect(os.WriteFile(filepath.Join(caDir, "azuresim.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: azSrv.Certificate().Raw}), 0o644)).To(Succeed())

	accounts(t, g, env, ns, awsSrv.URL, gcpSrv.URL, azSrv.URL)
	apply(t, env, ns, pipelines(ns))

	// The manager, killed and started again until enough kills are done.
	m := &manager{bin: bin, dir: dir, kubeconfig: env.Kubeconfig, azure: azSrv.URL, caDir: caDir}
	m.start(t)
	rnd := mrand.New(mrand.NewPCG(seed, seed+1))
	var rndMu sync.Mutex
	random := func(n int) int { rndMu.Lock(); defer rndMu.Unlock(); return rnd.IntN(n) }
	killsDone := make(chan struct{})
	go func() {
		defer close(killsDone)
		for m.kills < kills && time.Now().Before(deadline) {
			time.Sleep(time.Duration(300+random(2700)) * time.Millisecond) // a random kill point, not a wait for something
			m.kill(t)
			m.start(t)
		}
	}()

	// Runs, one after another, until the kills are done: the bootstrap, then releases judged at random.
	type result struct {
		name, decision string
	}
	var runs []result
	create := func(name, pipeline string, n int) {
		ex := &v1alpha1.Execution{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: v1alpha1.ExecutionSpec{
			Pipeline: pipeline, Parameters: map[string]string{
				"awsImage": fmt.Sprintf("ami-%017d", n), "gcpImage": fmt.Sprintf("projects/shop-images/global/images/shop-%d", n),
				"azureImage": fmt.Sprintf("/subscriptions/%s/resourceGroups/images/providers/Microsoft.Compute/images/shop-%d", azSub, n)}}}
		g.Expect(env.Client.Create(ctx, ex)).To(Succeed())
	}
	get := func(g Gomega, name string) *v1alpha1.Execution {
		var ex v1alpha1.Execution
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &ex)).To(Succeed())
		return &ex
	}
	finished := func(name string) {
		g.Eventually(func(g Gomega) {
			ph := get(g, name).Status.Phase
			g.Expect(ph).To(BeElementOf(v1alpha1.ExecutionSucceeded, v1alpha1.ExecutionFailed, v1alpha1.ExecutionCanceled))
		}, time.Until(deadline), 200*time.Millisecond).Should(Succeed(), "run %s did not finish", name)
	}
	create("bootstrap", "bootstrap", 0)
	finished("bootstrap")
	runs = append(runs, result{name: "bootstrap"})
	for n := 1; ; n++ {
		select {
		case <-killsDone:
		default:
			name := fmt.Sprintf("release-%03d", n)
			decision := []string{"Continue", "Continue", "Stop"}[random(3)]
			create(name, "release", n)
			g.Eventually(func(g Gomega) {
				ex := get(g, name)
				g.Expect(ex.Status.Stages).To(ContainElement(And(HaveField("Name", "go-no-go"), HaveField("Phase", v1alpha1.StageWaitingForJudgment))))
			}, time.Until(deadline), 200*time.Millisecond).Should(Succeed(), "run %s never waited for its judgment", name)
			body := fmt.Sprintf(`{"spec":{"judgments":{"go-no-go":{"decision":%q}}}}`, decision)
			g.Expect(env.Client.Patch(ctx, get(g, name), client.RawPatch(types.MergePatchType, []byte(body)))).To(Succeed())
			finished(name)
			runs = append(runs, result{name, decision})
			continue
		}
		break
	}
	<-killsDone

	// The world, with the last manager running and the faults off: it settles, then is checked.
	awsF.Pause(true)
	gcpF.Pause(true)
	azF.Pause(true)
	wrong := 0
	for _, r := range runs {
		ex := get(g, r.name)
		if !honoured(ex, r.decision) {
			wrong++
			t.Errorf("run %s (judgment %q) ended %s: stages %v", r.name, r.decision, ex.Status.Phase, stagePhases(ex))
		}
	}
	var groups v1alpha1.ServerGroupList
	var cloudGroups map[string][]string
	g.Eventually(func(g Gomega) {
		g.Expect(env.Client.List(ctx, &groups, client.InNamespace(ns))).To(Succeed())
		for _, sg := range groups.Items {
			g.Expect(meta.IsStatusConditionTrue(sg.Status.Conditions, v1alpha1.ConditionReady)).To(BeTrue(), "ServerGroup %s is not Ready", sg.Name)
		}
	}, 2*time.Minute, time.Second).Should(Succeed())
	cloudGroups = map[string][]string{}
	for _, v := range aws.Groups() {
		if !v.Deleting {
			cloudGroups["aws"] = append(cloudGroups["aws"], v.Name)
		}
	}
	for _, v := range gcp.Groups() {
		if !v.Deleting {
			cloudGroups["gcp"] = append(cloudGroups["gcp"], v.Name)
		}
	}
	for _, v := range az.ScaleSets() {
		cloudGroups["azure"] = append(cloudGroups["azure"], v.Name)
	}
	kube := map[string][]string{}
	for _, sg := range groups.Items {
		c := "aws"
		switch {
		case sg.Spec.GCP != nil:
			c = "gcp"
		case sg.Spec.Azure != nil:
			c = "azure"
		}
		kube[c] = append(kube[c], sg.Name)
	}
	duplicates, orphans, missing := 0, 0, 0
	for _, c := range []string{"aws", "gcp", "azure"} {
		slices.Sort(cloudGroups[c])
		slices.Sort(kube[c])
		duplicates += len(cloudGroups[c]) - len(slices.Compact(slices.Clone(cloudGroups[c])))
		for _, name := range cloudGroups[c] {
			if !slices.Contains(kube[c], name) {
				orphans++
			}
		}
		for _, name := range kube[c] {
			if !slices.Contains(cloudGroups[c], name) {
				missing++
			}
		}
		// One group per run and cloud: the bootstrap and each release made exactly one.
		if len(kube[c]) != len(runs) {
			t.Errorf("%s: %d ServerGroups for %d runs: %v", c, len(kube[c]), len(runs), kube[c])
		}
	}
	m.kill(t) // the last one's metrics are read too
	injected := awsF.Throttled.Load() + awsF.Failed.Load() + gcpF.Throttled.Load() + gcpF.Failed.Load() + azF.Throttled.Load() + azF.Failed.Load()
	continues, stops := 0, 0
	for _, r := range runs {
		switch r.decision {
		case "Continue":
			continues++
		case "Stop":
			stops++
		}
	}
	fmt.Printf("soak: kills=%d runs=%d (continue=%d stop=%d) wrong=%d groups=%d duplicates=%d orphans=%d missing=%d injected=%d (%s; %s; %s) operator: cloud-requests=%.0f cloud-errors=%.0f unscraped-kills=%d duration=%s seed=%d\n",
		m.kills, len(runs), continues, stops, wrong, len(groups.Items), duplicates, orphans, missing, injected,
		awsF, gcpF, azF, m.requests, m.errors, m.unscraped, time.Since(began).Round(time.Second), seed)
	g.Expect(m.kills).To(BeNumerically(">=", kills), "the soak ran out of time before its kills")
	g.Expect(wrong).To(BeZero())
	g.Expect(duplicates+orphans+missing).To(BeZero(), "cloud groups: %v; ServerGroups: %v", cloudGroups, kube)
	g.Expect(injected).To(BeNumerically(">", 0))
	// Errors the SDKs' retries did not absorb are counted; none can come from anywhere but the faults.
	g.Expect(m.errors).To(BeNumerically("<=", injected), "the operator counted more cloud errors than were injected")
}

// honoured says whether a run ended as its judgment called for: the bootstrap (no judgment) succeeded;
// a Continue shifted traffic in the three clouds and rolled nothing back, a Stop the other way round.
func honoured(ex *v1alpha1.Execution, decision string) bool {
	if ex.Status.Phase != v1alpha1.ExecutionSucceeded {
		return false
	}
	if decision == "" {
		return true
	}
	ph := stagePhases(ex)
	var j *metav1.Condition
	for _, st := range ex.Status.Stages {
		if st.Name == "go-no-go" {
			j = meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionJudged)
		}
	}
	if j == nil || j.Reason != decision {
		return false
	}
	ran, skipped := "shift-", "rollback-"
	if decision == "Stop" {
		ran, skipped = skipped, ran
	}
	for _, c := range []string{"aws", "gcp", "azure"} {
		if ph[ran+c] != v1alpha1.StageSucceeded || ph[skipped+c] != v1alpha1.StageSkipped {
			return false
		}
	}
	return true
}

func stagePhases(ex *v1alpha1.Execution) map[string]v1alpha1.StagePhase {
	out := map[string]v1alpha1.StagePhase{}
	for _, st := range ex.Status.Stages {
		out[st.Name] = st.Phase
	}
	return out
}

// manager is the operator as a subprocess.
type manager struct {
	bin, dir, kubeconfig, azure, caDir string
	cmd                                *exec.Cmd
	metrics                            string
	// kills counts SIGKILLs; requests and errors sum the cloud requests and their errors (after the
	// SDKs' retries) each killed manager's metrics showed just before the kill; unscraped counts the
	// managers whose metrics could not be read (killed before they served them).
	kills, unscraped int
	requests, errors float64
}

func (m *manager) start(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m.metrics = l.Addr().String()
	l.Close()
	log, err := os.OpenFile(filepath.Join(m.dir, "manager.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	// The admission webhooks the API server calls are testenv's, which no kill stops; the manager's own
	// server needs a certificate to start, and a port of its own.
	hooks, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hookPort := strconv.Itoa(hooks.Addr().(*net.TCPAddr).Port)
	hooks.Close()
	certs := filepath.Join(m.dir, "certs")
	if _, err := os.Stat(filepath.Join(certs, "tls.crt")); err != nil {
		if _, err := admission.SelfSigned(certs); err != nil {
			t.Fatal(err)
		}
	}
	m.cmd = exec.Command(m.bin, "--kubeconfig="+m.kubeconfig, "--metrics-bind-address="+m.metrics, "--metrics-secure=false",
		"--health-probe-bind-address=0", "--webhook-cert-dir="+certs, "--webhook-port="+hookPort,
		"--azure-authority-host-for-tests="+m.azure, "--cloud-slow-backoff=1s")
	m.cmd.Env = append(os.Environ(), "SSL_CERT_DIR=/etc/ssl/certs:"+m.caDir)
	m.cmd.Stdout, m.cmd.Stderr = log, log
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
}

// kill reads the manager's cloud metrics and SIGKILLs it.
func (m *manager) kill(t *testing.T) {
	if req, errs, ok := scrape(m.metrics); ok {
		m.requests += req
		m.errors += errs
	} else {
		m.unscraped++
	}
	_ = m.cmd.Process.Signal(syscall.SIGKILL)
	_ = m.cmd.Wait()
	m.kills++
}

// scrape sums gennaker_cloud_requests_total, and its outcomes other than OK.
func scrape(addr string) (requests, errors float64, ok bool) {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, 0, false
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "gennaker_cloud_requests_total{") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		requests += v
		if !strings.Contains(line, `outcome="OK"`) {
			errors += v
		}
	}
	return requests, errors, true
}

// accounts makes the three CloudAccounts and their Secrets.
func accounts(t *testing.T, g *WithT, env *testenv.Env, ns, awsURL, gcpURL, azURL string) {
	ctx := context.Background()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	g.Expect(err).NotTo(HaveOccurred())
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	gcpKey, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": gcpProject, "private_key_id": "0123456789abcdef",
		"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), "client_email": gcpSA,
		"client_id": "1234567890", "token_uri": gcpURL + "/token",
	})
	secrets := map[string][]byte{
		"aws":   []byte("[default]\naws_access_key_id = " + awsKeyID + "\naws_secret_access_key = " + awsSecret + "\n"),
		"gcp":   gcpKey,
		"azure": []byte(azSecret),
	}
	for name, data := range secrets {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string][]byte{"credentials": data}}
		g.Expect(env.Client.Create(ctx, s)).To(Succeed())
	}
	ref := func(name string) v1alpha1.Credentials {
		return v1alpha1.Credentials{Source: v1alpha1.CredentialSourceSecret, SecretRef: &v1alpha1.SecretKeyRef{Namespace: ns, Name: name, Key: "credentials"}}
	}
	for _, acc := range []*v1alpha1.CloudAccount{
		{ObjectMeta: metav1.ObjectMeta{Name: ns + "-aws"}, Spec: v1alpha1.CloudAccountSpec{Provider: v1alpha1.ProviderAWS, Credentials: ref("aws"),
			AWS: &v1alpha1.AWSAccount{Regions: []string{"us-east-1"}, Endpoint: v1alpha1.Endpoint(awsURL)}, AllowedNamespaces: []string{ns}}},
		{ObjectMeta: metav1.ObjectMeta{Name: ns + "-gcp"}, Spec: v1alpha1.CloudAccountSpec{Provider: v1alpha1.ProviderGCP, Credentials: ref("gcp"),
			GCP: &v1alpha1.GCPAccount{Project: gcpProject, Endpoint: v1alpha1.Endpoint(gcpURL)}, AllowedNamespaces: []string{ns}}},
		{ObjectMeta: metav1.ObjectMeta{Name: ns + "-azure"}, Spec: v1alpha1.CloudAccountSpec{Provider: v1alpha1.ProviderAzure, Credentials: ref("azure"),
			Azure:             &v1alpha1.AzureAccount{SubscriptionID: azSub, TenantID: azTenant, ClientID: azClient, ResourceGroup: "shop", Endpoint: v1alpha1.Endpoint(azURL)},
			AllowedNamespaces: []string{ns}}},
	} {
		g.Expect(env.Client.Create(ctx, acc)).To(Succeed())
		t.Cleanup(func() {
			_ = env.Client.Patch(ctx, acc, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`)))
			_ = env.Client.Delete(ctx, acc)
		})
	}
}

// pipelines are the bootstrap (v000 in the three clouds) and the release: the new version beside the old
// one in the three clouds, one judgment, then Continue takes the old ones out of traffic everywhere and
// Stop rolls the three back.
func pipelines(ns string) string {
	target := func(cloud, strategy string) string {
		head := "\n      - {account: " + ns + "-" + cloud + ", region: %s, stack: main, capacity: {min: 2, max: 3, desired: 2}, strategy: " + strategy + ", "
		switch cloud {
		case "aws":
			return fmt.Sprintf(head+`aws: {imageID: "${ parameters.awsImage }", instanceType: m7g.large, targetGroupARNs: [%s], subnetIDs: [subnet-0a]}}`, "us-east-1", awsTargetGroup)
		case "gcp":
			return fmt.Sprintf(head+`gcp: {image: "${ parameters.gcpImage }", machineType: e2-small, backendServices: [shop-web]}}`, gcpRegion)
		default:
			return fmt.Sprintf(head+`azure: {imageID: "${ parameters.azureImage }", vmSize: Standard_D2s_v5, backendAddressPoolIDs: [%s], subnetID: %s}}`, azRegion, azPool, azSubnet)
		}
	}
	params := `[{name: awsImage, required: true}, {name: gcpImage, required: true}, {name: azureImage, required: true}]`
	out := `
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: bootstrap}
spec:
  application: shop
  parameters: ` + params + `
  stages:
  - name: deploy
    deploy:
      clusters:` + target("aws", "RedBlack") + target("gcp", "RedBlack") + target("azure", "RedBlack") + `
---
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: release}
spec:
  application: shop
  limitConcurrent: true
  historyLimit: 1000            # every run is checked at the end: none may be pruned before
  parameters: ` + params + `
  stages:`
	regions := map[string]string{"aws": "us-east-1", "gcp": gcpRegion, "azure": azRegion}
	for _, c := range []string{"aws", "gcp", "azure"} {
		out += "\n  - name: deploy-" + c + "\n    deploy:\n      clusters:" + target(c, "None")
	}
	out += `
  - name: go-no-go
    dependsOn: [deploy-aws, deploy-gcp, deploy-azure]
    onFailure: Continue
    manualJudgment: {instructions: "Continue moves all traffic to the new version in the three clouds, Stop rolls the three back."}`
	for _, c := range []string{"aws", "gcp", "azure"} {
		where := "cluster: shop-main, account: " + ns + "-" + c + ", region: " + regions[c]
		out += `
  - name: shift-` + c + `
    dependsOn: [go-no-go]
    when: "stages['go-no-go'].outputs.decision == 'Continue'"
    disableServerGroup: {` + where + `, target: Previous}
  - name: rollback-` + c + `
    dependsOn: [go-no-go]
    when: "stages['go-no-go'].outputs.decision == 'Stop'"
    rollbackCluster: {` + where + `}`
	}
	return out + "\n"
}

// apply creates the objects of a multi-document manifest in ns.
func apply(t *testing.T, env *testenv.Env, ns, manifest string) {
	path := filepath.Join(t.TempDir(), "manifest.yaml")
	if err := os.WriteFile(path, []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := env.Kubectl("-n", ns, "create", "-f", path); err != nil {
		t.Fatalf("kubectl create: %v: %s", err, out)
	}
}
