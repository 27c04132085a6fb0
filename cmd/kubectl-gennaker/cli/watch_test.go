package cli

import (
	"context"
	"regexp"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/utils/clock"

	"github.com/gennaker/gennaker/test/testenv"
)

// TestWatch runs the real manager: start --watch draws the run from a watch while its judgment waits,
// approve (another invocation) decides it, and the same watch redraws the judgment Succeeded, then the
// wait after it, and ends with exit 0 once the run has Succeeded.
func TestWatch(t *testing.T) {
	g := testenv.NewWithT(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ns, out, errOut, code := startWatching(t, ctx, "watch")

	waiting := regexp.MustCompile(`go-no-go +⏸ WaitingForJudgment`)
	g.Eventually(out.String).Should(MatchRegexp(waiting.String()))
	name := regexp.MustCompile(`Name: +(gate-[a-z0-9]{5})`).FindStringSubmatch(out.String())
	g.Expect(name).To(HaveLen(2), out.String())
	g.Expect(out.String()).To(ContainSubstring("Approve:      kubectl gennaker approve -n watch " + name[1] + " go-no-go --input ship"))

	r := plugin(t, now, "-n", ns, "approve", name[1], "--input", "ship")
	g.Expect(r.code).To(Equal(0), r.err)

	g.Eventually(code).Should(Receive(Equal(0)), "stdout:\n%s\nstderr:\n%s", out, errOut)
	frames := strings.Split(out.String(), "\nName:")
	last := frames[len(frames)-1]
	g.Expect(last).To(MatchRegexp(`Status: +✔ Succeeded`))
	g.Expect(last).To(MatchRegexp(`go-no-go +✔ Succeeded`))
	g.Expect(last).To(MatchRegexp(`settle +✔ Succeeded`))
	g.Expect(last).To(ContainSubstring("Judged: Continue by admin"))
	// Frames follow the run: the judgment waited in an earlier frame than the one where it succeeded.
	first := strings.Index(out.String(), "⏸ WaitingForJudgment")
	g.Expect(first).To(BeNumerically("<", strings.LastIndex(out.String(), "go-no-go")))
	g.Expect(len(frames)).To(BeNumerically(">=", 2))
	g.Expect(errOut.String()).To(BeEmpty())
}

// TestWatchInterrupted: Ctrl-C on start --watch (its context canceled) while a judgment waits ends the
// watch with exit 130, as a shell reports an interrupt, and no error line.
func TestWatchInterrupted(t *testing.T) {
	g := testenv.NewWithT(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, out, errOut, code := startWatching(t, ctx, "interrupt")
	g.Eventually(out.String).Should(MatchRegexp(`go-no-go +⏸ WaitingForJudgment`))
	cancel()
	g.Eventually(code).Should(Receive(Equal(130)), "stdout:\n%s\nstderr:\n%s", out, errOut)
	g.Expect(errOut.String()).To(BeEmpty())
}

// startWatching runs the real manager and `start gate --watch` in a new namespace, gate being a judgment
// and a wait after it, until ctx ends: what it prints, and its exit code once it ends.
func startWatching(t *testing.T, ctx context.Context, name string) (ns string, out, errOut *syncBuffer, code chan int) {
	ns = namespace(t, name)
	env.StartManager(t)
	apply(t, ns, `
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: gate}
spec:
  application: shop
  stages:
  - name: go-no-go
    manualJudgment: {instructions: "Ship it?", inputs: [ship, hold]}
  - name: settle
    dependsOn: [go-no-go]
    wait: {duration: 1s}
`)
	out, errOut = &syncBuffer{}, &syncBuffer{}
	o := NewOptions(genericiooptions.IOStreams{Out: out, ErrOut: errOut})
	o.Clock = clock.RealClock{}
	code = make(chan int, 1)
	go func() {
		code <- Main(ctx, o, []string{"--kubeconfig", env.Kubeconfig, "-n", ns, "start", "gate", "--watch"})
	}()
	return ns, out, errOut, code
}
