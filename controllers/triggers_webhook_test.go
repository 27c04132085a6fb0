package controllers_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers"
	"github.com/gennaker/gennaker/controllers/trigger"
	"github.com/gennaker/gennaker/test/testenv"
)

// startWithTriggers runs a manager serving the webhook triggers; it returns the endpoint's base URL.
func startWithTriggers(t *testing.T) (base string, stop func()) {
	return startWithTriggerOptions(t, controllers.Options{})
}

// startWithTriggerOptions is startWithTriggers with o's trigger listener options, and a body limit of 64 KiB.
func startWithTriggerOptions(t *testing.T, o controllers.Options) (base string, stop func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o.TriggerListener, o.TriggerMaxBody = l, 64<<10
	stop = env.StartManagerWith(t, testenv.Manager{Controllers: o})
	return "http://" + l.Addr().String(), stop
}

// call POSTs body to a trigger, signed with secret unless it is empty, and returns the status and the
// answer's error or execution.
func call(g Gomega, url, secret, delivery string, body []byte) (int, map[string]string) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	g.Expect(err).NotTo(HaveOccurred())
	if secret != "" {
		sign(req, secret, body)
	}
	if delivery != "" {
		req.Header.Set("X-GitHub-Delivery", delivery)
	}
	resp, err := http.DefaultClient.Do(req)
	g.Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var answer map[string]string
	g.Expect(json.Unmarshal(raw, &answer)).To(Succeed(), string(raw))
	return resp.StatusCode, answer
}

// sign sets req's X-Hub-Signature-256 to the HMAC-SHA256 of body with secret, as GitHub does.
func sign(req *http.Request, secret string, body []byte) {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
}

// createSharedSecret makes the Secret ci, key secret, value s3cr3t, that the tests' webhook triggers name.
func createSharedSecret(g Gomega, ns string) {
	g.Expect(env.Client.Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ci"},
		Data:       map[string][]byte{"secret": []byte("s3cr3t")},
	})).To(Succeed())
}

// ping sends GitHub's signed ping, which starts nothing, and returns the status.
func ping(g Gomega, url, secret string) int {
	body := []byte(`{"zen": "Keep it logically awesome."}`)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	g.Expect(err).NotTo(HaveOccurred())
	sign(req, secret, body)
	req.Header.Set("X-GitHub-Event", "ping")
	req.Header.Set("X-GitHub-Delivery", "d-ping")
	resp, err := http.DefaultClient.Do(req)
	g.Expect(err).NotTo(HaveOccurred())
	resp.Body.Close()
	return resp.StatusCode
}

// TestWebhookTrigger calls a pipeline's webhook trigger as a CI system would: a signed call starts one run
// with its parameters and artifact mapped from the payload; every refused call (no or a bad signature, no
// delivery ID, a replayed one, a body that is not JSON, too large, or without the mapped field) says why
// and starts nothing, and a replay is refused by a restarted manager too.
func TestWebhookTrigger(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := env.Namespace(t)
	base, stop := startWithTriggers(t)
	ctx := context.Background()
	createSharedSecret(g, ns)
	apply(t, ns, `
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: release}
spec:
  application: shop
  parameters:
  - {name: version, required: true}
  triggers:
  - name: ci
    webhook:
      secretRef: {name: ci, key: secret}
      artifact:
        type: DockerImage
        reference: "${ trigger.payload.image + ':' + trigger.payload.version }"
        version: "${ trigger.payload.version }"
    parameters: {version: "${ trigger.payload.version }"}
  stages:
  - name: check
    checkPreconditions:
      expressions:
      - "trigger.type == 'webhook' && trigger.name == 'ci' && trigger.deliveryID == 'd-1'"
      - "parameters.version == '1.2.3' && trigger.artifact.reference == 'registry.example.com/shop/web:1.2.3'"
`)
	url := base + "/triggers/" + ns + "/release/ci"
	good := []byte(`{"image": "registry.example.com/shop/web", "version": "1.2.3"}`)

	// The endpoint reads Pipelines from the manager's cache, which may not have this one yet.
	var name string
	g.Eventually(func(g Gomega) {
		code, answer := call(g, url, "s3cr3t", "d-1", good)
		g.Expect(code).To(Equal(http.StatusAccepted), answer["error"])
		name = answer["execution"]
	}).Should(Succeed())
	ex := waitPhase(g, ns, name, v1alpha1.ExecutionSucceeded)
	g.Expect(ex.Status.Trigger).To(Equal(&v1alpha1.ExecutionTrigger{
		Type: v1alpha1.TriggerWebhook, Name: "ci", DeliveryID: "d-1",
		Artifact: &v1alpha1.Artifact{Type: v1alpha1.ArtifactDockerImage, Reference: "registry.example.com/shop/web:1.2.3", Version: "1.2.3"},
	}))

	// Without the secret, a wrong signature, a trigger or a pipeline that does not exist get one answer.
	const unverified = "the signature does not verify: this path names no webhook trigger whose secret signs this body"
	for reason, c := range map[string]struct {
		url, secret, delivery string
		body                  []byte
		code                  int
		says                  string
	}{
		"no signature":      {url, "", "d-2", good, http.StatusUnauthorized, "no signature"},
		"wrong secret":      {url, "guess", "d-2", good, http.StatusUnauthorized, unverified},
		"unknown trigger":   {base + "/triggers/" + ns + "/release/cd", "s3cr3t", "d-6", good, http.StatusUnauthorized, unverified},
		"unknown pipeline":  {base + "/triggers/" + ns + "/nope/ci", "guess", "d-6", good, http.StatusUnauthorized, unverified},
		"no delivery ID":    {url, "s3cr3t", "", good, http.StatusUnprocessableEntity, "no delivery ID"},
		"replayed delivery": {url, "s3cr3t", "d-1", good, http.StatusConflict, "delivery d-1 was already received"},
		"replayed body":     {url, "s3cr3t", "d-7", good, http.StatusConflict, "this body was already received as delivery d-1"},
		"delivery reused":   {url, "s3cr3t", "d-1", []byte(`{"image": "registry.example.com/shop/web", "version": "1.2.4"}`), http.StatusConflict, "delivery d-1 was already received"},
		"not JSON":          {url, "s3cr3t", "d-3", []byte(`{"version": `), http.StatusUnprocessableEntity, "not JSON"},
		"no mapped field":   {url, "s3cr3t", "d-4", []byte(`{"image": "x"}`), http.StatusUnprocessableEntity, "spec.triggers[0]"},
		"huge body":         {url, "s3cr3t", "d-5", []byte(`{"pad": "` + strings.Repeat("x", 65<<10) + `"}`), http.StatusRequestEntityTooLarge, "more than 65536"},
	} {
		code, answer := call(g, c.url, c.secret, c.delivery, c.body)
		g.Expect(code).To(Equal(c.code), "%s: %v", reason, answer)
		g.Expect(answer["error"]).To(ContainSubstring(c.says), reason)
	}
	// A malformed signature gets the same answer whether the path names a trigger or not.
	for _, u := range []string{url, base + "/triggers/" + ns + "/nope/ci"} {
		req, err := http.NewRequest(http.MethodPost, u, bytes.NewReader(good))
		g.Expect(err).NotTo(HaveOccurred())
		req.Header.Set("X-Hub-Signature-256", "sha256=not-hex")
		req.Header.Set("X-GitHub-Delivery", "d-2")
		resp, err := http.DefaultClient.Do(req)
		g.Expect(err).NotTo(HaveOccurred())
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		g.Expect(resp.StatusCode).To(Equal(http.StatusUnauthorized))
		g.Expect(string(raw)).To(MatchJSON(`{"error": "X-Hub-Signature-256 must be sha256=<hex>"}`), u)
	}
	// GitHub's ping when the webhook is set up is answered and starts nothing.
	g.Expect(ping(g, url, "s3cr3t")).To(Equal(http.StatusOK))
	g.Expect(runNames(g, ns)).To(Equal([]string{name}), "a refused call started a run")

	// A restarted manager has forgotten the calls it saw; the run's name and labels still remember, under
	// the same delivery ID or another.
	stop()
	base, _ = startWithTriggers(t)
	url = base + "/triggers/" + ns + "/release/ci"
	g.Eventually(func(g Gomega) {
		code, answer := call(g, url, "s3cr3t", "d-1", good)
		g.Expect(code).To(Equal(http.StatusConflict), answer["error"])
		g.Expect(answer["error"]).To(ContainSubstring("it started Execution " + name))
	}).Should(Succeed())
	code, answer := call(g, url, "s3cr3t", "d-8", good)
	g.Expect(code).To(Equal(http.StatusConflict), answer["error"])
	g.Expect(answer["error"]).To(Equal("this body was already received as delivery d-1: it started Execution " + name))
	code, answer = call(g, url, "s3cr3t", "d-1", []byte(`{"image": "registry.example.com/shop/web", "version": "1.2.5"}`))
	g.Expect(code).To(Equal(http.StatusConflict), answer["error"])
	g.Expect(answer["error"]).To(Equal("delivery d-1 was already received: it started Execution " + name))
	g.Expect(runNames(g, ns)).To(Equal([]string{name}))

	// A run someone made by hand under the name a call maps to is not taken for the trigger's own.
	var pl v1alpha1.Pipeline
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "release"}, &pl)).To(Succeed())
	other := []byte(`{"image": "registry.example.com/shop/web", "version": "2.0.0"}`)
	sum := sha256.Sum256(other)
	squat, err := trigger.NewExecution(&pl, trigger.Run{Type: v1alpha1.TriggerWebhook, Index: 0, Key: hex.EncodeToString(sum[:]),
		Payload: map[string]any{"image": "registry.example.com/shop/web", "version": "2.0.0"}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(env.Client.Create(ctx, &v1alpha1.Execution{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: squat.Name},
		Spec: v1alpha1.ExecutionSpec{Pipeline: "release", Parameters: map[string]string{"version": "0.0.1"}}})).To(Succeed())
	code, answer = call(g, url, "s3cr3t", "d-9", other)
	g.Expect(code).To(Equal(http.StatusConflict), answer["error"])
	g.Expect(answer["error"]).To(Equal("Execution " + squat.Name + " exists and was not started by this trigger: nothing was started"))

	// A failure on our side answers 503 and no more: the API server's refusal (here a quota of no runs)
	// stays in the log.
	// No quota controller runs here: the status it would write is written by hand.
	quota := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "no-runs"},
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"count/executions.delivery.gennaker.io": resource.MustParse("0")}}}
	g.Expect(env.Client.Create(ctx, quota)).To(Succeed())
	quota.Status = corev1.ResourceQuotaStatus{Hard: quota.Spec.Hard, Used: corev1.ResourceList{"count/executions.delivery.gennaker.io": resource.MustParse("0")}}
	g.Expect(env.Client.Status().Update(ctx, quota)).To(Succeed())
	attempt := 0
	g.Eventually(func(g Gomega) {
		attempt++
		code, answer := call(g, url, "s3cr3t", fmt.Sprintf("d-1%d", attempt), fmt.Appendf(nil, `{"image": "registry.example.com/shop/web", "version": "3.0.%d"}`, attempt))
		g.Expect(code).To(Equal(http.StatusServiceUnavailable), answer["error"])
		g.Expect(answer).To(Equal(map[string]string{"error": "the trigger cannot be served now; try again later"}))
	}).Should(Succeed())
}

// TestWebhookReplayAfterPrune sends a call again after its run was deleted by the history limit, to a
// restarted manager that never saw it: the Pipeline's status still remembers the call (also once the
// trigger moved to another index), under the same delivery ID or another, and the replay starts nothing,
// while a new call still starts its run.
func TestWebhookReplayAfterPrune(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := env.Namespace(t)
	base, stop := startWithTriggers(t)
	ctx := context.Background()
	createSharedSecret(g, ns)
	apply(t, ns, `
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: release}
spec:
  application: shop
  historyLimit: 0
  triggers:
  - name: ci
    webhook:
      secretRef: {name: ci, key: secret}
  stages:
  - name: check
    checkPreconditions:
      expressions: ["trigger.type == 'webhook'"]
`)
	url := base + "/triggers/" + ns + "/release/ci"
	first := []byte(`{"version": "1.0.0"}`)
	var name string
	g.Eventually(func(g Gomega) {
		code, answer := call(g, url, "s3cr3t", "d-1", first)
		g.Expect(code).To(Equal(http.StatusAccepted), answer["error"])
		name = answer["execution"]
	}).Should(Succeed())
	// Finished, the run is beyond a history of none, and deleted; the status keeps its call.
	g.Eventually(func(g Gomega) {
		g.Expect(runNames(g, ns)).To(BeEmpty())
		var pl v1alpha1.Pipeline
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "release"}, &pl)).To(Succeed())
		g.Expect(pl.Status.Triggers).To(HaveLen(1))
		g.Expect(pl.Status.Triggers[0].Webhook).NotTo(BeNil())
		g.Expect(pl.Status.Triggers[0].Webhook.Pruned).To(ConsistOf(HaveField("Execution", name)))
	}).Should(Succeed())

	// A trigger put before it moves the webhook trigger to index 1; its record moves with it.
	var pl v1alpha1.Pipeline
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "release"}, &pl)).To(Succeed())
	pl.Spec.Triggers = append([]v1alpha1.Trigger{{Name: "yearly", Cron: &v1alpha1.CronTrigger{Schedule: "0 0 1 1 *"}}}, pl.Spec.Triggers...)
	g.Expect(env.Client.Update(ctx, &pl)).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "release"}, &pl)).To(Succeed())
		g.Expect(pl.Status.Triggers).To(HaveLen(2))
		g.Expect(pl.Status.Triggers[1].Name).To(Equal("ci"))
		g.Expect(pl.Status.Triggers[1].Webhook).NotTo(BeNil())
		g.Expect(pl.Status.Triggers[1].Webhook.Pruned).To(ConsistOf(HaveField("Execution", name)))
	}).Should(Succeed())

	stop()
	base, _ = startWithTriggers(t)
	url = base + "/triggers/" + ns + "/release/ci"
	// A ping starts nothing: it says when the restarted manager serves the trigger.
	g.Eventually(func(g Gomega) { g.Expect(ping(g, url, "s3cr3t")).To(Equal(http.StatusOK)) }).Should(Succeed())
	code, answer := call(g, url, "s3cr3t", "d-1", first)
	g.Expect(code).To(Equal(http.StatusConflict), answer["error"])
	g.Expect(answer["error"]).To(Equal("delivery d-1 was already received: it started Execution " + name + ", pruned by the history limit"))
	code, answer = call(g, url, "s3cr3t", "d-2", first)
	g.Expect(code).To(Equal(http.StatusConflict), answer["error"])
	g.Expect(answer["error"]).To(Equal("this body was already received: it started Execution " + name + ", pruned by the history limit"))
	code, answer = call(g, url, "s3cr3t", "d-1", []byte(`{"version": "1.0.1"}`))
	g.Expect(code).To(Equal(http.StatusConflict), answer["error"])
	g.Expect(runNames(g, ns)).To(BeEmpty(), "a replayed call started a run")

	code, answer = call(g, url, "s3cr3t", "d-3", []byte(`{"version": "1.1.0"}`))
	g.Expect(code).To(Equal(http.StatusAccepted), answer["error"])
	g.Expect(answer["execution"]).NotTo(Equal(name))
}

// TestWebhookTriggerInFlight holds the trigger listener's calls open, each with a body not yet sent: the
// call beyond the bound is answered 503 at once, and a call is served again once one of them ends.
func TestWebhookTriggerInFlight(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := env.Namespace(t)
	const inFlight = 8 // --trigger-max-in-flight
	base, _ := startWithTriggerOptions(t, controllers.Options{TriggerMaxInFlight: inFlight})
	addr := strings.TrimPrefix(base, "http://")
	url := base + "/triggers/" + ns + "/release/ci"
	var held []net.Conn
	for range inFlight {
		c, err := net.Dial("tcp", addr)
		g.Expect(err).NotTo(HaveOccurred())
		t.Cleanup(func() { c.Close() })
		_, err = fmt.Fprintf(c, "POST /triggers/%s/release/ci HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{", ns)
		g.Expect(err).NotTo(HaveOccurred())
		held = append(held, c)
	}
	// The held calls reach the handler in their own time: the bound is met once a call is refused for it.
	g.Eventually(func(g Gomega) {
		code, answer := call(g, url, "", "d-1", []byte(`{}`))
		g.Expect(code).To(Equal(http.StatusServiceUnavailable), answer["error"])
		g.Expect(answer["error"]).To(Equal("too many calls in flight; try again later"))
	}).Should(Succeed())
	held[0].Close()
	g.Eventually(func(g Gomega) {
		code, answer := call(g, url, "", "d-1", []byte(`{}`))
		g.Expect(code).To(Equal(http.StatusUnauthorized), answer["error"])
	}).Should(Succeed())
}
