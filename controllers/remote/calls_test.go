package remote

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
)

// endpoint stands for a remote: each request blocks until the test releases it, and is counted.
type endpoint struct {
	release  chan struct{}
	running  atomic.Int32
	made     atomic.Int32
	deadline atomic.Int64 // of the last request's ctx, as time until it
}

func newEndpoint() *endpoint { return &endpoint{release: make(chan struct{})} }

func (ep *endpoint) do(answer string) func(context.Context) string {
	return func(ctx context.Context) string {
		ep.made.Add(1)
		ep.running.Add(1)
		defer ep.running.Add(-1)
		if d, ok := ctx.Deadline(); ok {
			ep.deadline.Store(int64(time.Until(d)))
		}
		select {
		case <-ep.release:
			return answer
		case <-ctx.Done():
			return "timed out"
		}
	}
}

// woken records the owners Calls wakes.
type woken struct {
	mu     sync.Mutex
	owners []types.NamespacedName
}

func (w *woken) wake(_ context.Context, o types.NamespacedName) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.owners = append(w.owners, o)
}

func (w *woken) list() []types.NamespacedName {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]types.NamespacedName(nil), w.owners...)
}

func key(run string, attempt string) Key {
	return Key{Run: types.UID(run), Stage: "notify", Attempt: attempt}
}

func request(k Key, do func(context.Context) string) Request[string] {
	return Request[string]{Key: k, Owner: types.NamespacedName{Namespace: "shop", Name: string(k.Run)}, Do: do}
}

func TestAnswerWakesTheOwnerAndIsKept(t *testing.T) {
	g := NewWithT(t)
	ep := newEndpoint()
	w := &woken{}
	c := New(Options[string]{Wake: w.wake})
	k := key("run-1", "call")

	_, state, err := c.Submit(request(k, ep.do("202 Accepted")))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(state).To(Equal(Pending))
	g.Eventually(ep.running.Load).Should(BeEquivalentTo(1))
	_, state = c.Result(k)
	g.Expect(state).To(Equal(Pending))
	g.Expect(w.list()).To(BeEmpty())

	close(ep.release)
	g.Eventually(w.list).Should(Equal([]types.NamespacedName{{Namespace: "shop", Name: "run-1"}}))
	for range 2 { // taking it does not drop it: the status write that records it may be lost
		answer, state := c.Result(k)
		g.Expect(state).To(Equal(Done))
		g.Expect(answer).To(Equal("202 Accepted"))
	}
	g.Expect(ep.made.Load()).To(BeEquivalentTo(1))
	g.Expect(time.Duration(ep.deadline.Load())).To(BeNumerically("~", DefaultTimeout, time.Second), "each request has a deadline")
}

// A request handed over again, from a reconcile that read a stale cache or whose write was lost, is the
// same request: it is not made twice.
func TestSameKeyIsOneRequest(t *testing.T) {
	g := NewWithT(t)
	ep := newEndpoint()
	c := New(Options[string]{})
	k := key("run-1", "call")
	for range 3 {
		_, state, err := c.Submit(request(k, ep.do("ok")))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(state).To(Equal(Pending))
	}
	close(ep.release)
	g.Eventually(func() State { _, s := c.Result(k); return s }).Should(Equal(Done))
	answer, state, err := c.Submit(request(k, ep.do("again")))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(state).To(Equal(Done))
	g.Expect(answer).To(Equal("ok"))
	g.Expect(ep.made.Load()).To(BeEquivalentTo(1))
}

func TestSlotsBoundConcurrencyAndQueue(t *testing.T) {
	g := NewWithT(t)
	ep := newEndpoint()
	c := New(Options[string]{Slots: 2, Queue: 1})
	for i := range 3 {
		_, _, err := c.Submit(request(key(fmt.Sprintf("run-%d", i), "call"), ep.do("ok")))
		g.Expect(err).NotTo(HaveOccurred())
	}
	g.Eventually(ep.running.Load).Should(BeEquivalentTo(2))
	g.Consistently(ep.running.Load, 200*time.Millisecond).Should(BeEquivalentTo(2), "the third waits for a slot")

	_, state, err := c.Submit(request(key("run-3", "call"), ep.do("ok")))
	g.Expect(err).To(MatchError(ErrBusy))
	g.Expect(state).To(Equal(Unknown))
	_, state = c.Result(key("run-3", "call"))
	g.Expect(state).To(Equal(Unknown), "a refused request is not remembered")

	close(ep.release)
	for i := range 3 {
		g.Eventually(func() State { _, s := c.Result(key(fmt.Sprintf("run-%d", i), "call")); return s }).Should(Equal(Done))
	}
	g.Expect(ep.made.Load()).To(BeEquivalentTo(3))
	_, _, err = c.Submit(request(key("run-3", "call"), ep.do("ok")))
	g.Expect(err).NotTo(HaveOccurred(), "slots free again")
}

func TestDeadlineEndsAHangingRequest(t *testing.T) {
	g := NewWithT(t)
	ep := newEndpoint() // never released
	c := New(Options[string]{Timeout: 50 * time.Millisecond})
	k := key("run-1", "call")
	_, _, err := c.Submit(request(k, ep.do("ok")))
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(func() string { a, _ := c.Result(k); return a }).Should(Equal("timed out"))
}

func TestAnswersExpire(t *testing.T) {
	g := NewWithT(t)
	clock := clocktesting.NewFakePassiveClock(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	c := New(Options[string]{TTL: time.Minute, Clock: clock})
	k := key("run-1", "call")
	_, _, err := c.Submit(request(k, func(context.Context) string { return "ok" }))
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(func() State { _, s := c.Result(k); return s }).Should(Equal(Done))

	clock.SetTime(clock.Now().Add(59 * time.Second))
	_, state := c.Result(k)
	g.Expect(state).To(Equal(Done))
	clock.SetTime(clock.Now().Add(time.Second))
	_, state = c.Result(k)
	g.Expect(state).To(Equal(Unknown))
	g.Expect(c.entries).To(BeEmpty(), "nothing left behind")
}

// Once a stage hands over its next request, the answers to its earlier ones are of no use.
func TestNextAttemptDropsEarlierAnswers(t *testing.T) {
	g := NewWithT(t)
	c := New(Options[string]{})
	answer := func(context.Context) string { return "ok" }
	poll1, poll2 := key("run-1", "poll/1"), key("run-1", "poll/2")
	other := Key{Run: "run-1", Stage: "other", Attempt: "poll/1"}
	for _, k := range []Key{poll1, other} {
		_, _, err := c.Submit(request(k, answer))
		g.Expect(err).NotTo(HaveOccurred())
		g.Eventually(func() State { _, s := c.Result(k); return s }).Should(Equal(Done))
	}
	_, _, err := c.Submit(request(poll2, answer))
	g.Expect(err).NotTo(HaveOccurred())
	_, state := c.Result(poll1)
	g.Expect(state).To(Equal(Unknown))
	_, state = c.Result(other)
	g.Expect(state).To(Equal(Done), "another stage's answer stays")
}

func TestAnswersAreBoundedByBytes(t *testing.T) {
	g := NewWithT(t)
	c := New(Options[string]{MaxBytes: 3*entryOverhead + 300, Size: func(s string) int64 { return int64(len(s)) }})
	body := string(make([]byte, 100))
	for i := range 5 {
		k := key(fmt.Sprintf("run-%d", i), "call")
		_, _, err := c.Submit(request(k, func(context.Context) string { return body }))
		g.Expect(err).NotTo(HaveOccurred())
		g.Eventually(func() bool { _, s := c.Result(k); return s == Done }).Should(BeTrue())
	}
	for i, want := range []State{Unknown, Unknown, Done, Done, Done} {
		_, state := c.Result(key(fmt.Sprintf("run-%d", i), "call"))
		g.Expect(state).To(Equal(want), "run-%d: the oldest answers go first", i)
	}
}

// The answer to a request that must not be made twice, dropped before anyone moved on from it, leaves the
// key Lost: handing it over again makes no request. A later request of the stage, or LostTTL, ends that.
func TestDroppedAnswerOfAOnceRequestIsLost(t *testing.T) {
	g := NewWithT(t)
	clock := clocktesting.NewFakePassiveClock(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	c := New(Options[string]{TTL: time.Minute, LostTTL: time.Hour, Clock: clock})
	var made atomic.Int32
	answer := func(context.Context) string { made.Add(1); return "ok" }
	once := func(k Key) Request[string] { r := request(k, answer); r.Once = true; return r }
	call, other := key("run-1", "call"), key("run-2", "call")
	for _, k := range []Key{call, other} {
		_, _, err := c.Submit(once(k))
		g.Expect(err).NotTo(HaveOccurred())
		g.Eventually(func() State { _, s := c.Result(k); return s }).Should(Equal(Done))
	}

	clock.SetTime(clock.Now().Add(time.Minute))
	a, state := c.Result(call)
	g.Expect(state).To(Equal(Lost))
	g.Expect(a).To(BeEmpty(), "the answer itself is gone")
	a, state, err := c.Submit(once(call))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(state).To(Equal(Lost))
	g.Expect(a).To(BeEmpty())
	g.Expect(made.Load()).To(BeEquivalentTo(2), "not made again")
	g.Expect(c.bytes).To(BeZero(), "a Lost key weighs nothing against MaxBytes")

	_, _, err = c.Submit(request(key("run-1", "poll/1"), answer))
	g.Expect(err).NotTo(HaveOccurred())
	_, state = c.Result(call)
	g.Expect(state).To(Equal(Unknown), "the stage moved on: the call was recorded")

	clock.SetTime(clock.Now().Add(time.Hour - time.Second))
	_, state = c.Result(other)
	g.Expect(state).To(Equal(Lost))
	clock.SetTime(clock.Now().Add(time.Second))
	_, state = c.Result(other)
	g.Expect(state).To(Equal(Unknown), "after LostTTL")
}

// An answer pushed out by newer ones is Lost too, and Lost keys are bounded in number.
func TestAnswerOfAOnceRequestPushedOutIsLost(t *testing.T) {
	g := NewWithT(t)
	c := New(Options[string]{MaxBytes: 2*entryOverhead + 200, MaxLost: 2, Size: func(s string) int64 { return int64(len(s)) }})
	body := string(make([]byte, 100))
	for i := range 5 {
		r := request(key(fmt.Sprintf("run-%d", i), "call"), func(context.Context) string { return body })
		r.Once = true
		_, _, err := c.Submit(r)
		g.Expect(err).NotTo(HaveOccurred())
		g.Eventually(func() bool { _, s := c.Result(r.Key); return s == Done }).Should(BeTrue())
	}
	for i, want := range []State{Unknown, Lost, Lost, Done, Done} {
		_, state := c.Result(key(fmt.Sprintf("run-%d", i), "call"))
		g.Expect(state).To(Equal(want), "run-%d", i)
	}
}

// A recorded answer that is forgotten leaves nothing behind: not the answer, nor, past TTL, a Lost key that
// would count against MaxLost. One that is not forgotten still becomes Lost, and a Pending key is not
// forgotten: its request is never made twice.
func TestForgottenAnswerLeavesNoLostKey(t *testing.T) {
	g := NewWithT(t)
	clock := clocktesting.NewFakePassiveClock(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	c := New(Options[string]{TTL: time.Minute, Clock: clock})
	var made atomic.Int32
	answer := func(context.Context) string { made.Add(1); return "ok" }
	recorded, unrecorded := key("run-1", "call"), key("run-2", "call")
	for _, k := range []Key{recorded, unrecorded} {
		r := request(k, answer)
		r.Once = true
		_, _, err := c.Submit(r)
		g.Expect(err).NotTo(HaveOccurred())
		g.Eventually(func() State { _, s := c.Result(k); return s }).Should(Equal(Done))
	}
	c.Forget(recorded)
	_, state := c.Result(recorded)
	g.Expect(state).To(Equal(Unknown))

	clock.SetTime(clock.Now().Add(time.Minute))
	_, state = c.Result(recorded)
	g.Expect(state).To(Equal(Unknown), "a forgotten answer does not turn Lost")
	_, state = c.Result(unrecorded)
	g.Expect(state).To(Equal(Lost), "an answer dropped before it was recorded is still Lost")
	g.Expect(c.lost.Len()).To(Equal(1))
	g.Expect(c.bytes).To(BeZero())
	c.Forget(unrecorded)
	g.Expect(c.lost.Len()).To(BeZero(), "a Lost key is forgotten once the failure it caused is recorded")
	g.Expect(c.entries).To(BeEmpty())

	ep := newEndpoint()
	pending := key("run-3", "call")
	r := request(pending, ep.do("late"))
	r.Once = true
	_, _, err := c.Submit(r)
	g.Expect(err).NotTo(HaveOccurred())
	c.Forget(pending)
	_, state, err = c.Submit(r)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(state).To(Equal(Pending))
	close(ep.release)
	g.Eventually(func() State { _, s := c.Result(pending); return s }).Should(Equal(Done))
	g.Expect(ep.made.Load()).To(BeEquivalentTo(1), "a pending request forgotten is not made again")
}
