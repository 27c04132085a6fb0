package controllers_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers"
	"github.com/gennaker/gennaker/test/testenv"
)

// mavenRepo is a Maven repository served from files (a copy of testdata/maven), optionally behind basic
// auth, counting the operator's requests by kind: "metadata", "sha256", "other", and those it refused as
// "refused metadata" and so on.
type mavenRepo struct {
	*httptest.Server
	dir   string
	mu    sync.Mutex
	calls map[string]int
}

func newMavenRepo(t *testing.T, user, password string) *mavenRepo {
	t.Helper()
	r := &mavenRepo{dir: t.TempDir(), calls: map[string]int{}}
	if err := os.CopyFS(r.dir, os.DirFS("testdata/maven")); err != nil {
		t.Fatal(err)
	}
	files := http.FileServer(http.Dir(r.dir))
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		u, p, ok := req.BasicAuth()
		refused := user != "" && (!ok || u != user || p != password)
		if strings.Contains(req.UserAgent(), "gennaker") {
			kind := "other"
			switch {
			case strings.HasSuffix(req.URL.Path, "/maven-metadata.xml"):
				kind = "metadata"
			case strings.HasSuffix(req.URL.Path, ".sha256"):
				kind = "sha256"
			}
			if refused {
				kind = "refused " + kind
			}
			r.mu.Lock()
			r.calls[kind]++
			r.mu.Unlock()
		}
		if refused {
			w.Header().Set("WWW-Authenticate", `Basic realm="maven"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		files.ServeHTTP(w, req)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *mavenRepo) counts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for k, v := range r.calls {
		out[k] = v
	}
	return out
}

// publish writes versions into checkout's maven-metadata.xml, and for jar (if set) its Jar, with a sha256
// file if withDigest; it returns the Jar's digest.
func (r *mavenRepo) publish(t *testing.T, versions []string, jar string, withDigest bool) string {
	t.Helper()
	dir := filepath.Join(r.dir, "com/example/shop/checkout")
	var digest string
	if jar != "" {
		content := []byte("PK-not-really-a-jar-" + jar + "\n")
		sum := sha256.Sum256(content)
		digest = "sha256:" + hex.EncodeToString(sum[:])
		if err := os.MkdirAll(filepath.Join(dir, jar), 0o755); err != nil {
			t.Fatal(err)
		}
		name := filepath.Join(dir, jar, "checkout-"+jar+".jar")
		if err := os.WriteFile(name, content, 0o644); err != nil {
			t.Fatal(err)
		}
		if withDigest {
			if err := os.WriteFile(name+".sha256", []byte(hex.EncodeToString(sum[:])+"  checkout-"+jar+".jar\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		} else {
			digest = ""
		}
	}
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata>\n  <groupId>com.example.shop</groupId>\n  <artifactId>checkout</artifactId>\n  <versioning>\n    <versions>\n")
	for _, v := range versions {
		fmt.Fprintf(&b, "      <version>%s</version>\n", v)
	}
	b.WriteString("    </versions>\n  </versioning>\n</metadata>\n")
	// Written aside and renamed, so that a look never reads half a file.
	tmp := filepath.Join(dir, ".maven-metadata.xml.tmp")
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "maven-metadata.xml")); err != nil {
		t.Fatal(err)
	}
	return digest
}

// pipelineOf reads a Pipeline as the API server has it.
func pipelineOf(g Gomega, ns, name string) *v1alpha1.Pipeline {
	var pl v1alpha1.Pipeline
	g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &pl)).To(Succeed())
	return &pl
}

// mavenStatus is what trigger 0 of a Pipeline last saw.
func mavenStatus(g Gomega, ns, name string) *v1alpha1.PolledArtifactStatus {
	pl := pipelineOf(g, ns, name)
	g.Expect(pl.Status.Triggers).To(HaveLen(1))
	g.Expect(pl.Status.Triggers[0].Maven).NotTo(BeNil())
	g.Expect(pl.Status.Triggers[0].Maven.LastCheckTime).NotTo(BeNil())
	return pl.Status.Triggers[0].Maven
}

// TestMavenTrigger watches a Jar in a Maven repository behind basic auth: the first look only records the
// newest release; a SNAPSHOT and a version outside the range start nothing (checked after a look that read
// them); a new matching version starts exactly one run with its URL, version and sha256 bound, also when
// published while the manager is down; one look costs one GET of maven-metadata.xml; wrong credentials make
// the Pipeline not Ready, naming the trigger's field, without the password; an open repository is read
// without credentials.
func TestMavenTrigger(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	const user, password = "deployer", "maven-pw-7f3a"
	repo := newMavenRepo(t, user, password)
	open := newMavenRepo(t, "", "")
	for name, pw := range map[string]string{"maven": password, "maven-wrong": "guess-91c2"} {
		g.Expect(env.Client.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Data:       map[string][]byte{"username": []byte(user), "password": []byte(pw)},
		})).To(Succeed())
	}
	manager := testenv.Manager{Controllers: controllers.Options{}}
	stop := env.StartManagerWith(t, manager)
	apply(t, ns, fmt.Sprintf(`
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: checkout}
spec:
  application: shop
  parameters:
  - {name: jar}
  - {name: version}
  triggers:
  - name: jar
    maven: {repository: %q, groupId: com.example.shop, artifactId: checkout, versions: "^1", secretRef: maven, interval: 5s}
    parameters: {jar: "${ trigger.artifact.reference }", version: "${ trigger.artifact.version }"}
  stages:
  - name: check
    checkPreconditions:
      expressions: ["trigger.type == 'maven' && trigger.name == 'jar' && parameters.jar == trigger.artifact.reference"]
---
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: checkout-wrong}
spec:
  application: shop
  triggers:
  - name: jar
    maven: {repository: %q, groupId: com.example.shop, artifactId: checkout, secretRef: maven-wrong, interval: 5s}
  stages:
  - {name: soak, wait: {duration: 1s}}
---
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: checkout-open}
spec:
  application: shop
  triggers:
  - name: jar
    maven: {repository: %q, groupId: com.example.shop, artifactId: checkout, interval: 5s}
  stages:
  - {name: soak, wait: {duration: 1s}}
`, repo.URL, repo.URL, open.URL))

	// The first look records the newest release in the range: 1.0.0, not the SNAPSHOT.
	g.Eventually(func(g Gomega) {
		g.Expect(mavenStatus(g, ns, "checkout").Version).To(Equal("1.0.0"))
		g.Expect(mavenStatus(g, ns, "checkout-open").Version).To(Equal("1.0.0"))
	}).Should(Succeed())
	g.Expect(mavenStatus(g, ns, "checkout").Reference).To(Equal(repo.URL + "/com/example/shop/checkout/1.0.0/checkout-1.0.0.jar"))
	g.Expect(runNames(g, ns)).To(BeEmpty(), "the first look started a run")

	// Wrong credentials: not Ready, naming the field, the password nowhere.
	g.Eventually(func(g Gomega) {
		pl := pipelineOf(g, ns, "checkout-wrong")
		ready := meta.FindStatusCondition(pl.Status.Conditions, v1alpha1.ConditionReady)
		g.Expect(ready).NotTo(BeNil())
		g.Expect(ready.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(ready.Message).To(ContainSubstring("spec.triggers[0].maven.secretRef: the repository refuses the credentials of Secret maven-wrong"))
		g.Expect(ready.Message).To(ContainSubstring("401 Unauthorized"))
		g.Expect(ready.Message + pl.Status.Triggers[0].Maven.Message).NotTo(ContainSubstring("guess-91c2"))
	}).Should(Succeed())

	// A SNAPSHOT and a version outside ^1: a look reads them (5 versions) and starts nothing.
	repo.publish(t, []string{"0.9.0", "1.0.0", "1.1.0-SNAPSHOT", "1.2.0-SNAPSHOT", "2.0.0"}, "2.0.0", true)
	g.Eventually(func(g Gomega) {
		g.Expect(mavenStatus(g, ns, "checkout").Message).To(Equal("the newest match among 5 versions is 1.0.0, already run"))
	}, "20s").Should(Succeed())
	g.Expect(runNames(g, ns)).To(BeEmpty(), "a SNAPSHOT or a version outside the range started a run")

	// A new matching version: one run, the Jar's URL, version and sha256 bound.
	published := time.Now()
	digest := repo.publish(t, []string{"0.9.0", "1.0.0", "1.1.0", "1.2.0-SNAPSHOT", "2.0.0"}, "1.1.0", true)
	var first v1alpha1.Execution
	g.Eventually(func(g Gomega) {
		runs := runsOfPipeline(g, ns, "checkout")
		g.Expect(runs).To(HaveLen(1))
		first = runs[0]
	}, "30s").Should(Succeed())
	t.Logf("publish to run start: %s (poll interval 5s)", time.Since(published).Round(100*time.Millisecond))
	jarURL := repo.URL + "/com/example/shop/checkout/1.1.0/checkout-1.1.0.jar"
	want := v1alpha1.Artifact{Type: v1alpha1.ArtifactJar, Reference: jarURL, Repository: "com.example.shop:checkout", Version: "1.1.0", Digest: digest}
	g.Expect(first.Spec.Artifacts).To(Equal([]v1alpha1.Artifact{want}))
	g.Expect(first.Spec.Parameters).To(Equal(map[string]string{"jar": jarURL, "version": "1.1.0"}))
	ex := waitPhase(g, ns, first.Name, v1alpha1.ExecutionSucceeded)
	g.Expect(ex.Status.Trigger).To(Equal(&v1alpha1.ExecutionTrigger{Type: v1alpha1.TriggerMaven, Name: "jar", Artifact: &want}))
	g.Eventually(func(g Gomega) {
		pl := pipelineOf(g, ns, "checkout")
		g.Expect(meta.FindStatusCondition(pl.Status.Conditions, v1alpha1.ConditionReady).Message).To(MatchRegexp(
			`the pipeline is valid; maven trigger jar looked at \d{4}-.*Z: (started a run for the new version 1\.1\.0|the newest match among 5 versions is 1\.1\.0, already run)`))
	}).Should(Succeed())

	// The cost of a look with nothing new, between two status updates: one GET of maven-metadata.xml.
	waitLook := func() {
		checked := mavenStatus(g, ns, "checkout").LastCheckTime
		g.Eventually(func(g Gomega) {
			g.Expect(mavenStatus(g, ns, "checkout").LastCheckTime.After(checked.Time)).To(BeTrue())
		}, "15s").Should(Succeed())
	}
	waitLook()
	before := repo.counts()
	waitLook()
	after := repo.counts()
	t.Logf("maven requests of one look with nothing new: %v (all so far: %v)", diffCounts(before, after), after)
	// The wrong-credentials Pipeline has a poller of its own (another Secret), backing off: its refused
	// requests are left out.
	delete(before, "refused metadata")
	delete(after, "refused metadata")
	g.Expect(diffCounts(before, after)).To(Equal(map[string]int{"metadata": 1}))

	// Published while the manager is down, without a sha256: one run once it is back, none again for 1.1.0.
	stop()
	repo.publish(t, []string{"0.9.0", "1.0.0", "1.1.0", "1.3.0", "2.0.0"}, "1.3.0", false)
	env.StartManagerWith(t, manager)
	g.Eventually(func(g Gomega) {
		g.Expect(mavenStatus(g, ns, "checkout").Version).To(Equal("1.3.0"))
		g.Expect(mavenStatus(g, ns, "checkout").Message).To(ContainSubstring("already run"))
	}, "30s").Should(Succeed())
	runs := runsOfPipeline(g, ns, "checkout")
	var versions []string
	for _, r := range runs {
		versions = append(versions, r.Spec.Artifacts[0].Version+"@"+r.Spec.Artifacts[0].Digest)
	}
	g.Expect(versions).To(ConsistOf("1.1.0@"+digest, "1.3.0@"))
	g.Expect(runsOfPipeline(g, ns, "checkout-wrong")).To(BeEmpty())
	g.Expect(runsOfPipeline(g, ns, "checkout-open")).To(BeEmpty(), "nothing was published to the open repository")
}
