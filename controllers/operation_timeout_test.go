package controllers_test

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/servergroup"
	"github.com/gennaker/gennaker/test/testenv"
)

// TestCloudOperationPastItsTimeoutIsAbandoned: a long-running cloud operation that does not end (here an
// Azure creation the simulator keeps InProgress) does not hold its ServerGroup forever: past the operation
// timeout the controller says so in a Warning Event, observes the group afresh and goes on from what the
// cloud shows, so that even the ServerGroup's deletion is not held by it.
func TestCloudOperationPastItsTimeoutIsAbandoned(t *testing.T) {
	g := testenv.NewWithT(t)
	opts := azureSimOptions()
	opts.OperationDelay = time.Hour
	z := setupAzure(t, false, opts)
	m := z.manager()
	m.Controllers.CloudOperationTimeout = time.Second
	env.StartManagerWith(t, m)

	sg := z.serverGroup(t, "shop-main-v000", 2, v1alpha1.TrafficEnabled)
	g.Eventually(func(g Gomega) {
		got := getGroup(g, z.ns, sg.Name)
		g.Expect(got.Status.Operation).NotTo(BeNil())
		g.Expect(got.Status.Operation.Action).To(Equal(v1alpha1.OperationCreate))
	}).Should(Succeed())
	g.Eventually(func(g Gomega) []string {
		var reasons []string
		for _, e := range events(g, z.ns, sg.Name) {
			reasons = append(reasons, e.Reason)
		}
		return reasons
	}).Should(ContainElement(servergroup.EventOperationAbandoned))
}
