package stages

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/engine"
	"github.com/gennaker/gennaker/controllers/remote"
)

// TestWebhookAnswerIsForgottenOnceWritten: the call's answer, recorded by a step whose status write went
// through, is dropped from Calls at once, so a finished stage leaves no Lost key behind for a day. A step
// whose write was lost keeps the guarantee: past the answers' TTL the call is Lost, and the stage, handed
// the status as last written, fails instead of calling again.
func TestWebhookAnswerIsForgottenOnceWritten(t *testing.T) {
	g := NewWithT(t)
	rm := newRemote(t, reply(200, `{}`))
	clock := clocktesting.NewFakePassiveClock(webhookT0)
	h := newHook(remote.Options[*answer]{TTL: time.Minute, Clock: clock})
	wh := &v1alpha1.WebhookStage{URL: rm.URL + "/services/T000/B000/XXXX"}

	written, lost := webhookRun(wh), webhookRun(wh)
	lost.Execution.UID = "lost-uid"
	for _, run := range []*engine.StageRun{written, lost} {
		g.Expect(h.Start(context.Background(), run)).To(Succeed())
		g.Eventually(h.woken, "10s").Should(Receive())
		ctx, w := AfterWrite(context.Background())
		g.Expect(h.Check(ctx, run)).To(Succeed())
		g.Expect(run.Status.Phase).To(Equal(v1alpha1.StageSucceeded), run.Status.Message)
		if run == written {
			w.Done()
		}
	}
	_, state := h.Calls.Result(remote.Key{Run: written.Execution.UID, Stage: "notify", Attempt: "call"})
	g.Expect(state).To(Equal(remote.Unknown), "the recorded answer is forgotten")
	_, state = h.Calls.Result(remote.Key{Run: lost.Execution.UID, Stage: "notify", Attempt: "call"})
	g.Expect(state).To(Equal(remote.Done), "an answer whose write was lost is kept")

	clock.SetTime(webhookT0.Add(time.Minute))
	_, state = h.Calls.Result(remote.Key{Run: written.Execution.UID, Stage: "notify", Attempt: "call"})
	g.Expect(state).To(Equal(remote.Unknown), "no Lost key for a recorded answer")
	again := webhookRun(wh)
	again.Execution.UID = lost.Execution.UID
	again.Now = clock.Now()
	g.Expect(h.Start(context.Background(), again)).To(Succeed())
	g.Expect(again.Status.Phase).To(Equal(v1alpha1.StageFailed))
	g.Expect(again.Status.Message).To(HaveSuffix("the answer was lost before it was recorded; not calling again"))
	g.Expect(rm.received()).To(HaveLen(2), "one call per run")
}
