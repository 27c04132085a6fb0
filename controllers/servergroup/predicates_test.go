package servergroup

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/gennaker/gennaker/api/v1alpha1"
)

func TestAccountChanged(t *testing.T) {
	account := func(gen int64, status metav1.ConditionStatus, reason, msg string, usedBy ...string) *v1alpha1.CloudAccount {
		a := &v1alpha1.CloudAccount{ObjectMeta: metav1.ObjectMeta{Name: "prod", Generation: gen}}
		a.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: status, Reason: reason, Message: msg}}
		a.Status.UsedBy = usedBy
		a.Status.ServerGroups = int32(len(usedBy))
		return a
	}
	ready := account(1, metav1.ConditionTrue, "Verified", "authenticated as a")
	deleting := account(1, metav1.ConditionTrue, "Verified", "authenticated as a")
	now := metav1.Now()
	deleting.DeletionTimestamp = &now
	cases := map[string]struct {
		after *v1alpha1.CloudAccount
		want  bool
	}{
		"usage written":         {account(1, metav1.ConditionTrue, "Verified", "authenticated as a", "shop/web-v001"), false},
		"message only":          {account(1, metav1.ConditionTrue, "Verified", "authenticated as b"), false},
		"spec changed":          {account(2, metav1.ConditionTrue, "Verified", "authenticated as a"), true},
		"not ready any more":    {account(1, metav1.ConditionFalse, "AccessDenied", "denied"), true},
		"another reason":        {account(1, metav1.ConditionTrue, "Other", "authenticated as a"), true},
		"deletion just started": {deleting, true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got := accountChanged.Update(event.UpdateEvent{ObjectOld: ready, ObjectNew: c.after}); got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}
