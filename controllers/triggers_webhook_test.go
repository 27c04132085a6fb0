package controllers_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers"
	"github.com/gennaker/gennaker/test/testenv"
)

// startWithTriggers runs a manager serving the webhook triggers; it returns the endpoint's base URL.
func startWithTriggers(t *testing.T) (base string, stop func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stop = env.StartManagerWith(t, testenv.Manager{Controllers: controllers.Options{TriggerListener: l, TriggerMaxBody: 64 << 10}})
	return "http://" + l.Addr().String(), stop
}

// call POSTs body to a trigger, signed with secret unless it is empty, and returns the status and the
// answer's error or execution.
func call(g Gomega, url, secret, delivery string, body []byte) (int, map[string]string) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	g.Expect(err).NotTo(HaveOccurred())
	if secret != "" {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
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

// TestWebhookTrigger calls a pipeline's webhook trigger as a CI system would: a signed call starts one run
// with its parameters and artifact mapped from the payload; every refused call (no or a bad signature, no
// delivery ID, a replayed one, a body that is not JSON, too large, or without the mapped field) says why
// and starts nothing, and a replay is refused by a restarted manager too.
func TestWebhookTrigger(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := env.Namespace(t)
	base, stop := startWithTriggers(t)
	ctx := context.Background()
	g.Expect(env.Client.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ci"},
		Data:       map[string][]byte{"secret": []byte("s3cr3t")},
	})).To(Succeed())
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

	for reason, c := range map[string]struct {
		url, secret, delivery string
		body                  []byte
		code                  int
		says                  string
	}{
		"no signature":      {url, "", "d-2", good, http.StatusUnauthorized, "no signature"},
		"wrong secret":      {url, "guess", "d-2", good, http.StatusForbidden, "signature does not match"},
		"no delivery ID":    {url, "s3cr3t", "", good, http.StatusUnprocessableEntity, "no delivery ID"},
		"replayed delivery": {url, "s3cr3t", "d-1", good, http.StatusConflict, "delivery d-1 was already received"},
		"not JSON":          {url, "s3cr3t", "d-3", []byte(`{"version": `), http.StatusUnprocessableEntity, "not JSON"},
		"no mapped field":   {url, "s3cr3t", "d-4", []byte(`{"image": "x"}`), http.StatusUnprocessableEntity, "spec.triggers[0]"},
		"huge body":         {url, "s3cr3t", "d-5", []byte(`{"pad": "` + strings.Repeat("x", 65<<10) + `"}`), http.StatusRequestEntityTooLarge, "more than 65536"},
		"unknown trigger":   {base + "/triggers/" + ns + "/release/cd", "s3cr3t", "d-6", good, http.StatusNotFound, "no webhook trigger cd"},
	} {
		code, answer := call(g, c.url, c.secret, c.delivery, c.body)
		g.Expect(code).To(Equal(c.code), "%s: %v", reason, answer)
		g.Expect(answer["error"]).To(ContainSubstring(c.says), reason)
	}
	// GitHub's ping when the webhook is set up is answered and starts nothing.
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader([]byte(`{"zen": "Keep it logically awesome."}`)))
	g.Expect(err).NotTo(HaveOccurred())
	mac := hmac.New(sha256.New, []byte("s3cr3t"))
	mac.Write([]byte(`{"zen": "Keep it logically awesome."}`))
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	req.Header.Set("X-GitHub-Event", "ping")
	req.Header.Set("X-GitHub-Delivery", "d-ping")
	resp, err := http.DefaultClient.Do(req)
	g.Expect(err).NotTo(HaveOccurred())
	resp.Body.Close()
	g.Expect(resp.StatusCode).To(Equal(http.StatusOK))
	g.Expect(runNames(g, ns)).To(Equal([]string{name}), "a refused call started a run")

	// A restarted manager has forgotten the deliveries it saw; the run's name still remembers.
	stop()
	base, _ = startWithTriggers(t)
	g.Eventually(func(g Gomega) {
		code, answer := call(g, base+"/triggers/"+ns+"/release/ci", "s3cr3t", "d-1", good)
		g.Expect(code).To(Equal(http.StatusConflict), answer["error"])
		g.Expect(answer["error"]).To(ContainSubstring("it started Execution " + name))
	}).Should(Succeed())
	g.Expect(runNames(g, ns)).To(Equal([]string{name}))
}
