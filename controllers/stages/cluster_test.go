package stages

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gennaker/gennaker/api/v1alpha1"
)

var clusterT0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// sg is a ServerGroup of the shop-main cluster in aws-prod/us-east-1, made at t.
func sg(name string, created time.Time) v1alpha1.ServerGroup {
	return v1alpha1.ServerGroup{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: "shop", Generation: 1, CreationTimestamp: metav1.NewTime(created),
			Labels: map[string]string{v1alpha1.LabelCluster: "shop-main"},
		},
		Spec: v1alpha1.ServerGroupSpec{
			Application: "shop", Stack: "main", Account: "aws-prod", Region: "us-east-1",
			Capacity: v1alpha1.Capacity{Min: 3, Desired: 3, Max: 5}, Traffic: v1alpha1.TrafficEnabled,
		},
	}
}

func names(groups []*v1alpha1.ServerGroup) []string {
	out := make([]string, len(groups))
	for i, g := range groups {
		out[i] = g.Name
	}
	return out
}

func TestFriggaNames(t *testing.T) {
	g := NewWithT(t)
	g.Expect(serverGroupName("shop-main", 3)).To(Equal("shop-main-v003"))
	g.Expect(serverGroupName("shop", 0)).To(Equal("shop-v000"))
	g.Expect(serverGroupName("shop--canary", 999)).To(Equal("shop--canary-v999"))

	for name, want := range map[string]struct {
		cluster string
		seq     int
		ok      bool
	}{
		"shop-main-v003":        {"shop-main", 3, true},
		"shop-v999":             {"shop", 999, true},
		"shop--canary-v010":     {"shop--canary", 10, true},
		"shop-main-eu-v2-v042":  {"shop-main-eu-v2", 42, true},
		"shop-main-v1":          {ok: false},
		"shop-main-v0001":       {ok: false},
		"shop-main-vabc":        {ok: false},
		"shop-main-v+12":        {ok: false},
		"shop-main-v-12":        {ok: false},
		"v001":                  {ok: false},
		"-v001":                 {ok: false},
		"shop-main":             {ok: false},
		"":                      {ok: false},
		"shop-main-v003-canary": {ok: false},
	} {
		c, n, ok := parseServerGroupName(name)
		g.Expect(ok).To(Equal(want.ok), name)
		if want.ok {
			g.Expect(c).To(Equal(want.cluster), name)
			g.Expect(n).To(Equal(want.seq), name)
		}
	}
	g.Expect(sequenceOf("shop-main", "shop-main-v007")).To(Equal(7))
	g.Expect(sequenceOf("shop-main", "shop-main-canary-v007")).To(Equal(-1), "another cluster's group")
	g.Expect(sequenceOf("shop-main", "hand-made")).To(Equal(-1))
}

func TestNextSequence(t *testing.T) {
	next := func(taken []string, groups ...string) any {
		var gs []v1alpha1.ServerGroup
		set := map[string]bool{}
		for _, n := range groups {
			gs = append(gs, sg(n, clusterT0))
			set[n] = true
		}
		for _, n := range taken {
			set[n] = true
		}
		seq, err := nextSequence("shop-main", gs, set)
		if err != nil {
			return err.Error()
		}
		return seq
	}
	g := NewWithT(t)
	g.Expect(next(nil)).To(Equal(0), "a new cluster starts at v000")
	g.Expect(next(nil, "shop-main-v000")).To(Equal(1))
	g.Expect(next(nil, "shop-main-v005", "shop-main-v002")).To(Equal(6), "the highest plus one, whatever the order")
	g.Expect(next(nil, "shop-main-v003", "hand-made", "shop-main-canary-v009")).To(Equal(4), "names of other clusters do not count")

	// Wrapping from 999 to 000, skipping the numbers still in use.
	g.Expect(next(nil, "shop-main-v999")).To(Equal(0))
	g.Expect(next(nil, "shop-main-v998", "shop-main-v999")).To(Equal(0))
	g.Expect(next(nil, "shop-main-v999", "shop-main-v000")).To(Equal(1))
	g.Expect(next(nil, "shop-main-v998", "shop-main-v999", "shop-main-v000", "shop-main-v001")).To(Equal(2))

	// A name taken elsewhere in the namespace (another region of the cluster, a hand-made group) is skipped.
	g.Expect(next([]string{"shop-main-v004"}, "shop-main-v003")).To(Equal(5))
	g.Expect(next([]string{"shop-main-v000", "shop-main-v001"}, "shop-main-v999")).To(Equal(2))

	all := make([]string, 0, sequences)
	for i := range sequences {
		all = append(all, serverGroupName("shop-main", i))
	}
	g.Expect(next(all)).To(Equal("every name from shop-main-v000 to shop-main-v999 is taken"))
}

func TestPickByAge(t *testing.T) {
	g := NewWithT(t)
	gone := sg("shop-main-v004", clusterT0.Add(4*time.Hour))
	gone.DeletionTimestamp = ptrTime(clusterT0.Add(5 * time.Hour))
	gone.Finalizers = []string{"delivery.gennaker.io/cloud-resource"}
	groups := []v1alpha1.ServerGroup{
		sg("shop-main-v002", clusterT0.Add(2*time.Hour)),
		sg("shop-main-v000", clusterT0),
		gone,
		sg("shop-main-v003", clusterT0.Add(3*time.Hour)),
		sg("shop-main-v001", clusterT0.Add(time.Hour)),
	}
	g.Expect(names(newestFirst(groups))).To(Equal([]string{"shop-main-v004", "shop-main-v003", "shop-main-v002", "shop-main-v001", "shop-main-v000"}))
	g.Expect(pick(groups, v1alpha1.TargetNewest).Name).To(Equal("shop-main-v003"), "a group being deleted is not picked")
	g.Expect(pick(groups, v1alpha1.TargetPrevious).Name).To(Equal("shop-main-v002"))
	g.Expect(pick(groups, v1alpha1.TargetOldest).Name).To(Equal("shop-main-v000"))

	one := []v1alpha1.ServerGroup{sg("shop-main-v000", clusterT0)}
	g.Expect(pick(one, v1alpha1.TargetNewest).Name).To(Equal("shop-main-v000"))
	g.Expect(pick(one, v1alpha1.TargetOldest).Name).To(Equal("shop-main-v000"))
	g.Expect(pick(one, v1alpha1.TargetPrevious)).To(BeNil())
	g.Expect(pick(nil, v1alpha1.TargetNewest)).To(BeNil())
	g.Expect(pick([]v1alpha1.ServerGroup{gone}, v1alpha1.TargetOldest)).To(BeNil())

	// Made within the same second: the sequence decides, counted around the wrap.
	same := []v1alpha1.ServerGroup{sg("shop-main-v000", clusterT0), sg("shop-main-v999", clusterT0), sg("shop-main-v998", clusterT0)}
	g.Expect(names(newestFirst(same))).To(Equal([]string{"shop-main-v000", "shop-main-v999", "shop-main-v998"}))
	// Creation time comes first: a group made later is newer whatever its number.
	late := []v1alpha1.ServerGroup{sg("shop-main-v007", clusterT0), sg("shop-main-v001", clusterT0.Add(time.Minute))}
	g.Expect(pick(late, v1alpha1.TargetNewest).Name).To(Equal("shop-main-v001"))
}

func TestGroupStatusIsTrustedOnlyAtItsGeneration(t *testing.T) {
	g := NewWithT(t)
	x := sg("shop-main-v001", clusterT0)
	x.Generation = 2
	x.Status.ObservedGeneration = 1
	x.Status.Conditions = []metav1.Condition{
		{Type: v1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonInvalidRequest, Message: "no such AMI", ObservedGeneration: 1},
		{Type: v1alpha1.ConditionHealthy, Status: metav1.ConditionTrue, Reason: "AllHealthy", ObservedGeneration: 1},
	}
	g.Expect(fresh(&x)).To(BeFalse())
	g.Expect(healthy(&x)).To(BeFalse(), "a status of the spec before the last patch")
	g.Expect(needsPerson(&x)).To(BeEmpty())

	x.Status.ObservedGeneration = 2
	for i := range x.Status.Conditions {
		x.Status.Conditions[i].ObservedGeneration = 2
	}
	g.Expect(healthy(&x)).To(BeTrue())
	g.Expect(needsPerson(&x)).To(Equal("shop-main-v001: Ready=False InvalidRequest: no such AMI"))

	x.Status.Conditions[0].Reason = "Throttled"
	x.Status.Conditions[0].Message = "Rate exceeded"
	g.Expect(needsPerson(&x)).To(BeEmpty(), "a transient failure waits")
	g.Expect(healthText(&x)).To(Equal("shop-main-v001: 0/3 healthy (Ready=False Throttled: Rate exceeded)"))
	x.Status.Conditions[0].Reason = v1alpha1.ReasonUpdating
	g.Expect(healthText(&x)).To(Equal("shop-main-v001: 0/3 healthy"))
}

func TestClusterNameMustBeALabelValue(t *testing.T) {
	g := NewWithT(t)
	g.Expect(validClusterName("shop-main")).To(BeEmpty())
	long := v1alpha1.ClusterName("shop", "main", "a-very-long-detail-that-makes-the-cluster-name-too-long-for-a-label")
	g.Expect(validClusterName(long)).To(ContainSubstring("cannot be the value of label " + v1alpha1.LabelCluster))
}
