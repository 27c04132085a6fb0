package controllers_test

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/test/testenv"
)

// TestQueueKeepsCreationOrder: runs of a limitConcurrent pipeline created in one second, named in reverse
// alphabetical order, get queue positions in creation order and run in that order, not by name.
func TestQueueKeepsCreationOrder(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := setup(t)
	apply(t, ns, `
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: serial}
spec:
  application: shop
  limitConcurrent: true
  stages:
  - {name: soak, wait: {duration: 1h}}
`)
	// Not a synchronisation: it makes the three creations land in one second, which is the case at stake.
	if ms := time.Now().Nanosecond() / 1e6; ms > 700 {
		time.Sleep(time.Duration(1000-ms) * time.Millisecond)
	}
	names := []string{"run-c", "run-b", "run-a"}
	for _, n := range names {
		run(t, ns, n, "serial", nil)
	}
	first := execution(g, ns, names[0])
	for _, n := range names[1:] {
		ex := execution(g, ns, n)
		g.Expect(ex.CreationTimestamp).To(Equal(first.CreationTimestamp), "the runs were not created in one second")
	}
	for i, n := range names {
		g.Eventually(func(g Gomega) {
			g.Expect(execution(g, ns, n).Annotations).To(HaveKeyWithValue(v1alpha1.AnnotationQueuePosition, []string{"1", "2", "3"}[i]))
		}).Should(Succeed())
	}
	for i, n := range names {
		waitPhase(g, ns, n, v1alpha1.ExecutionRunning)
		for _, later := range names[i+1:] {
			g.Expect(execution(g, ns, later).Status.StartTime).To(BeNil(), "%s ran before %s", later, n)
		}
		if i+1 < len(names) {
			g.Eventually(func(g Gomega) {
				g.Expect(condition(execution(g, ns, names[i+1]), v1alpha1.ConditionReady).Message).To(
					Equal("waits for execution " + n + " of pipeline serial to finish (limitConcurrent)"))
			}).Should(Succeed())
		}
		patch(t, ns, n, `{"spec":{"cancel":true}}`)
		waitPhase(g, ns, n, v1alpha1.ExecutionCanceled)
	}
}
