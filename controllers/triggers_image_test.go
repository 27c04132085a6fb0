package controllers_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers"
	"github.com/gennaker/gennaker/test/testenv"
)

// privateRegistry is go-containerregistry's in-memory registry behind HTTP basic auth, counting the
// requests the operator makes (those with its user agent).
type privateRegistry struct {
	*httptest.Server
	mu    sync.Mutex
	calls map[string]int // by method and kind: "GET tags", "HEAD manifests", "GET ping"
	// throttle, while set, answers the operator's requests 429 Too Many Requests.
	throttle atomic.Bool
}

func newPrivateRegistry(t *testing.T, user, password string) *privateRegistry {
	r := &privateRegistry{calls: map[string]int{}}
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if strings.Contains(req.UserAgent(), "gennaker") {
			kind := "ping"
			for _, k := range []string{"tags", "manifests", "blobs"} {
				if strings.Contains(req.URL.Path, "/"+k+"/") {
					kind = k
				}
			}
			r.mu.Lock()
			r.calls[req.Method+" "+kind]++
			r.mu.Unlock()
			if r.throttle.Load() {
				http.Error(w, `{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}`, http.StatusTooManyRequests)
				return
			}
		}
		if u, p, ok := req.BasicAuth(); !ok || u != user || p != password {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		inner.ServeHTTP(w, req)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *privateRegistry) counts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for k, v := range r.calls {
		out[k] = v
	}
	return out
}

// push writes a random image as repo:tag and returns its digest.
func push(t *testing.T, repo, tag, user, password string) string {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewTag(repo + ":" + tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: user, Password: password})); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// TestImageTrigger watches a private repository from two Pipelines: the first look only records the
// newest matching tag; a matching tag pushed later starts exactly one run of each with the digest pinned, a
// tag that does not match starts none, one look (a tags list and a HEAD) serves both Pipelines, and a tag
// pushed while the manager is down starts one run of each once it is back.
func TestImageTrigger(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	const user, password = "robot", "hunter2"
	reg := newPrivateRegistry(t, user, password)
	host := strings.TrimPrefix(reg.URL, "http://")
	repo := host + "/shop/web"
	push(t, repo, "1.0.0", user, password)

	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	g.Expect(env.Client.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "registry"},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: fmt.Appendf(nil, `{"auths":{%q:{"auth":%q}}}`, host, auth)},
	})).To(Succeed())
	manager := testenv.Manager{Controllers: controllers.Options{}}
	stop := env.StartManagerWith(t, manager)
	apply(t, ns, fmt.Sprintf(`
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: web}
spec:
  application: shop
  parameters:
  - {name: image}
  triggers:
  - name: registry
    image: {repository: %q, semver: ">=1.0.0", secretRef: registry, interval: 5s}
    parameters: {image: "${ trigger.artifact.reference }"}
  stages:
  - name: check
    checkPreconditions:
      expressions: ["trigger.type == 'image' && parameters.image == trigger.artifact.reference"]
---
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: web-canary}
spec:
  application: shop
  triggers:
  - name: registry
    image: {repository: %q, semver: "^1", secretRef: registry, interval: 10s}
  stages:
  - {name: soak, wait: {duration: 1s}}
`, repo, repo))
	imageStatus := func(g Gomega) *v1alpha1.ImageTriggerStatus {
		var pl v1alpha1.Pipeline
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, &pl)).To(Succeed())
		g.Expect(pl.Status.Triggers).To(HaveLen(1))
		g.Expect(pl.Status.Triggers[0].Image).NotTo(BeNil())
		return pl.Status.Triggers[0].Image
	}
	g.Eventually(func(g Gomega) {
		g.Expect(imageStatus(g).Tag).To(Equal("1.0.0"))
	}).Should(Succeed())
	g.Expect(runNames(g, ns)).To(BeEmpty(), "the first look started a run")

	// A tag that does not match, then one that does.
	push(t, repo, "nightly", user, password)
	pushed := time.Now()
	digest := push(t, repo, "1.1.0", user, password)
	var first v1alpha1.Execution
	g.Eventually(func(g Gomega) {
		runs := runsOfPipeline(g, ns, "web")
		g.Expect(runs).To(HaveLen(1))
		first = runs[0]
	}, "30s").Should(Succeed())
	t.Logf("push to run start: %s (poll interval 5s)", time.Since(pushed).Round(100*time.Millisecond))
	want := v1alpha1.Artifact{Type: v1alpha1.ArtifactDockerImage, Reference: repo + ":1.1.0@" + digest,
		Repository: repo, Version: "1.1.0", Digest: digest}
	g.Expect(first.Spec.Artifacts).To(Equal([]v1alpha1.Artifact{want}))
	g.Expect(first.Spec.Parameters).To(Equal(map[string]string{"image": want.Reference}))
	ex := waitPhase(g, ns, first.Name, v1alpha1.ExecutionSucceeded)
	g.Expect(ex.Status.Trigger).To(Equal(&v1alpha1.ExecutionTrigger{Type: v1alpha1.TriggerImage, Name: "registry", Artifact: &want}))
	g.Eventually(func(g Gomega) {
		st := imageStatus(g)
		g.Expect(st.Tag).To(Equal("1.1.0"))
		g.Expect(st.Digest).To(Equal(digest))
		var pl v1alpha1.Pipeline
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, &pl)).To(Succeed())
		g.Expect(meta.FindStatusCondition(pl.Status.Conditions, v1alpha1.ConditionReady).Message).To(MatchRegexp(
			`the pipeline is valid; image trigger registry looked at \d{4}-.*Z: (started a run for the new tag 1\.1\.0|the newest matching tag is 1\.1\.0, already run)`))
	}).Should(Succeed())

	// The cost of a look that finds nothing new.
	before := reg.counts()
	checked := imageStatus(g).LastCheckTime
	g.Eventually(func(g Gomega) {
		g.Expect(imageStatus(g).LastCheckTime.After(checked.Time)).To(BeTrue())
	}, "15s").Should(Succeed())
	after := reg.counts()
	// Two Pipelines watch the repository: one look serves both.
	g.Expect(diffCounts(before, after)).To(Equal(map[string]int{"GET tags": 1, "HEAD manifests": 1}))
	g.Expect(runsOfPipeline(g, ns, "web-canary")).To(HaveLen(1))
	t.Logf("registry calls of one look with nothing new, for two Pipelines: %v (all calls so far: %v)", diffCounts(before, after), after)

	// A throttled look says so, and the trigger fires again once the registry answers.
	reg.throttle.Store(true)
	g.Eventually(func(g Gomega) {
		g.Expect(imageStatus(g).Message).To(ContainSubstring("429 Too Many Requests"))
	}, "20s").Should(Succeed())
	reg.throttle.Store(false)
	digest3 := push(t, repo, "1.3.0", user, password)
	g.Eventually(func(g Gomega) {
		st := imageStatus(g)
		g.Expect(st.Tag).To(Equal("1.3.0"))
		g.Expect(st.Digest).To(Equal(digest3))
	}, "30s").Should(Succeed())
	// Both Pipelines must have started their 1.3.0 run before the stop below: the status of one says
	// nothing of the other's reconcile, and a stop in between cancels that run for good (after the
	// restart the newest tag, 1.4.0, is the one run), which made this test flaky.
	g.Eventually(func(g Gomega) {
		g.Expect(runsOfPipeline(g, ns, "web")).To(HaveLen(2))
		g.Expect(runsOfPipeline(g, ns, "web-canary")).To(HaveLen(2))
	}, "30s").Should(Succeed())

	// Pushed while the manager is down: one run once it is back, and no second one for 1.1.0.
	stop()
	digest2 := push(t, repo, "1.4.0", user, password)
	restarted := time.Now()
	env.StartManagerWith(t, manager)
	g.Eventually(func(g Gomega) {
		g.Expect(runsOfPipeline(g, ns, "web")).To(HaveLen(3))
		g.Expect(runsOfPipeline(g, ns, "web-canary")).To(HaveLen(3))
	}, "30s").Should(Succeed())
	t.Logf("restart to run start: %s", time.Since(restarted).Round(100*time.Millisecond))
	var digests []string
	for _, r := range runsOfPipeline(g, ns, "web") {
		digests = append(digests, r.Spec.Artifacts[0].Digest)
	}
	g.Expect(digests).To(ConsistOf(digest, digest3, digest2))
	g.Consistently(func(g Gomega) {
		g.Expect(runsOfPipeline(g, ns, "web")).To(HaveLen(3))
		g.Expect(runsOfPipeline(g, ns, "web-canary")).To(HaveLen(3))
	}, "6s").Should(Succeed())

	// Once no Pipeline watches the repository, the poller stops (after at most one more look).
	for _, name := range []string{"web", "web-canary"} {
		g.Expect(env.Client.Delete(ctx, &v1alpha1.Pipeline{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})).To(Succeed())
	}
	var calls map[string]int
	g.Eventually(func(g Gomega) {
		calls = reg.counts()
		g.Consistently(reg.counts, "6s", "1s").Should(Equal(calls))
	}, "20s").Should(Succeed())
}

func diffCounts(before, after map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range after {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}
