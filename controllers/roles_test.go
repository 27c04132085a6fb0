package controllers_test

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/test/testenv"
)

// TestEditorCannotCancelByDeleting: deleting a running run cancels it (and rolls a red/black back), so it
// is an approver's act like cancel: true, not an editor's.
func TestEditorCannotCancelByDeleting(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := approvals(t)
	ctx := context.Background()
	ex := &v1alpha1.Execution{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "kept"}, Spec: v1alpha1.ExecutionSpec{Pipeline: "gated"}}
	g.Expect(as(t, dave).Create(ctx, ex)).To(Succeed())
	err := as(t, dave).Delete(ctx, ex)
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "an editor deleted a run: %v", err)
	g.Expect(as(t, bob).Delete(ctx, ex)).To(Succeed(), "an approver may delete a run")
}
