package controllers_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/test/testenv"
)

// A group made from a team's launch template at $Latest is pinned to the version $Latest was when it was
// made: a version 2 made afterwards never reaches it, not even when the Auto Scaling group is deleted
// behind the operator's back and made again. The team's template never gets a version from the operator,
// even for a group that replaces its image.
func TestServerGroupPinsLaunchTemplateVersion(t *testing.T) {
	g := testenv.NewWithT(t)
	a := setupAWS(t, false)
	m := a.manager()
	m.Controllers.ServerGroupResync = 200 * time.Millisecond // a group deleted in the cloud is noticed soon
	env.StartManagerWith(t, m)
	a.baseTemplate(t, "shop-base", "ami-00000000000000001")
	sg := &v1alpha1.ServerGroup{
		ObjectMeta: metav1.ObjectMeta{Namespace: a.ns, Name: "shop-main-v000"},
		Spec: v1alpha1.ServerGroupSpec{
			Application: "shop", Stack: "main", Account: a.account, Region: "us-east-1",
			Capacity: v1alpha1.Capacity{Min: 0, Max: 4, Desired: 2},
			CloudServerGroup: v1alpha1.CloudServerGroup{AWS: &v1alpha1.AWSServerGroup{
				LaunchTemplate: &v1alpha1.LaunchTemplate{Name: "shop-base"}, SubnetIDs: []string{"subnet-0a"},
			}},
		},
	}
	g.Expect(env.Client.Create(context.Background(), sg)).To(Succeed())
	g.Expect(getGroup(g, a.ns, sg.Name).Spec.AWS.LaunchTemplate.Version).To(Equal("$Latest"), "the default")
	pinned := &v1alpha1.LaunchTemplate{Name: "shop-base", Version: "1"}
	g.Eventually(func(g Gomega) {
		sg := getGroup(g, a.ns, sg.Name)
		g.Expect(current(sg, v1alpha1.ConditionHealthy, metav1.ConditionTrue)).To(BeTrue())
		g.Expect(sg.Status.AWS).NotTo(BeNil())
		g.Expect(sg.Status.AWS.LaunchTemplate).To(Equal(pinned))
	}).Should(Succeed())

	a.templateVersion(t, "shop-base", "ami-00000000000000002")
	a.deleteASG(t, sg.Name)
	g.Eventually(func(g Gomega) {
		asg, ok := a.sim.Group(sg.Name)
		g.Expect(ok).To(BeTrue())
		g.Expect(asg.Deleting).To(BeFalse())
		g.Expect(asg.Instances).To(HaveLen(2))
		g.Expect(a.sim.Calls()["autoscaling:CreateAutoScalingGroup"]).To(Equal(2), "made again")
	}).Should(Succeed())
	asg, _ := a.sim.Group(sg.Name)
	g.Expect(asg.LaunchTemplateVersion).To(Equal("1"))
	for _, in := range asg.Instances {
		g.Expect(in.LaunchTemplateVersion).To(Equal(int64(1)), "instance %s", in.ID)
	}
	g.Eventually(func(g Gomega) {
		sg := getGroup(g, a.ns, sg.Name)
		g.Expect(current(sg, v1alpha1.ConditionHealthy, metav1.ConditionTrue)).To(BeTrue())
		g.Expect(sg.Status.AWS.LaunchTemplate).To(Equal(pinned))
	}).Should(Succeed())

	// With an image of its own, a group gets a template of its own made from $Latest, now version 2.
	img := &v1alpha1.ServerGroup{ObjectMeta: metav1.ObjectMeta{Namespace: a.ns, Name: "shop-main-v001"}, Spec: *sg.Spec.DeepCopy()}
	img.Spec.AWS.ImageID = "ami-00000000000000003"
	g.Expect(env.Client.Create(context.Background(), img)).To(Succeed())
	g.Eventually(func(g Gomega) {
		sg := getGroup(g, a.ns, img.Name)
		g.Expect(current(sg, v1alpha1.ConditionHealthy, metav1.ConditionTrue)).To(BeTrue())
		g.Expect(sg.Status.AWS.LaunchTemplate).To(Equal(&v1alpha1.LaunchTemplate{Name: img.Name, Version: "1"}))
	}).Should(Succeed())
	templates := map[string][]string{}
	for _, lt := range a.sim.LaunchTemplates() {
		for _, v := range lt.Versions {
			templates[lt.Name] = append(templates[lt.Name], v.ImageID)
		}
	}
	g.Expect(templates).To(Equal(map[string][]string{
		"shop-base":      {"ami-00000000000000001", "ami-00000000000000002"},
		"shop-main-v001": {"ami-00000000000000003"},
	}))
	g.Expect(a.sim.Calls()["ec2:CreateLaunchTemplateVersion"]).To(Equal(1), "the team's own")
}
