package stages

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/engine"
	"github.com/gennaker/gennaker/controllers/status"
)

// Pipeline runs another pipeline of the namespace as a child Execution. The child's name is derived from
// the parent's and the stage's, so a restart between creating it and recording it finds it again instead
// of starting a second run. The child is owned by the parent: deleting the parent deletes it.
//
// A pipeline never runs inside itself: the child carries AnnotationPipelineChain, its ancestors' pipelines,
// and a stage whose pipeline is already in its run's chain (A starting B starting A) fails instead of
// starting it, as does one that would nest runs deeper than MaxPipelineDepth. Such a child would otherwise
// fork without end, or wait forever behind its own ancestor when the pipeline has limitConcurrent. A
// stage also fails when the Pipelines its child would lead to, through their own pipeline stages, come
// back to its run's chain: A starting B fails at once when B starts A.
type Pipeline struct {
	Client client.Client
	// APIReader reads past the cache: a child the cache does not show yet may just have been created.
	APIReader client.Reader
}

// Start creates the child.
func (p Pipeline) Start(ctx context.Context, s *engine.StageRun) error {
	ps := s.Spec.Pipeline
	params := make(map[string]string, len(ps.Parameters))
	for k, tmpl := range ps.Parameters {
		v, err := s.Render(tmpl, nil)
		if err != nil {
			s.Fail(fmt.Sprintf("pipeline.parameters.%s: %v", k, err))
			return nil
		}
		params[k] = v
	}
	parent := s.Execution
	chain, msg := childChain(parent, ps.Name)
	if msg != "" {
		s.Fail(msg)
		return nil
	}
	key := types.NamespacedName{Namespace: parent.Namespace, Name: ChildName(parent.Name, s.Spec.Name)}
	// A child made before a restart is looked at below, whatever the Pipelines say now: failing here would
	// leave it running with no parent to wait on it.
	if err := p.Client.Get(ctx, key, &v1alpha1.Execution{}); apierrors.IsNotFound(err) {
		if msg, err := p.reentry(ctx, parent.Namespace, chain, ps.Name); err != nil || msg != "" {
			if err == nil {
				s.Fail(msg)
			}
			return err
		}
	} else if err != nil {
		return err
	}
	child := &v1alpha1.Execution{
		ObjectMeta: metav1.ObjectMeta{
			Name:      key.Name,
			Namespace: parent.Namespace,
			Labels:    map[string]string{v1alpha1.LabelPipeline: ps.Name},
			Annotations: map[string]string{
				v1alpha1.AnnotationTrigger:         v1alpha1.TriggerPipeline,
				v1alpha1.AnnotationParentExecution: parent.Name,
				v1alpha1.AnnotationParentStage:     s.Spec.Name,
				v1alpha1.AnnotationPipelineChain:   strings.Join(chain, ","),
			},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion:         v1alpha1.GroupVersion.String(),
				Kind:               "Execution",
				Name:               parent.Name,
				UID:                parent.UID,
				Controller:         ptr.To(true),
				BlockOwnerDeletion: ptr.To(true),
			}},
		},
		Spec: v1alpha1.ExecutionSpec{Pipeline: ps.Name, Parameters: params},
	}
	// The child's Pipeline must be in the parent's shard: a manager sees only its own Pipelines.
	InheritShard(parent, child)
	err := p.Client.Create(ctx, child)
	adopted := apierrors.IsAlreadyExists(err)
	if adopted {
		// A restart between creating the child and recording it: the child is ours if it says so.
		if err := p.get(ctx, client.ObjectKeyFromObject(child), child); err != nil {
			return err
		}
		if !startedBy(child, parent, s.Spec.Name, ps.Name) {
			s.Fail(fmt.Sprintf("execution %s already exists and was not started by this stage", child.Name))
			return nil
		}
	} else if err != nil {
		return err
	}
	if err := s.SetOutput("execution", child.Name); err != nil {
		return err
	}
	if !ptr.Deref(ps.Wait, true) {
		s.Succeed(fmt.Sprintf("started execution %s of pipeline %s", child.Name, ps.Name))
		return nil
	}
	if adopted {
		// It may have finished already, and then no change of its phase will come to wake the parent.
		return p.outcome(s, child)
	}
	s.Running(fmt.Sprintf("execution %s of pipeline %s started", child.Name, ps.Name), timeZero)
	return nil
}

// startedBy says whether child is the run this stage of parent starts. An owner reference alone does not
// say so: anyone who may create Executions can write one naming the parent (its UID is readable). The
// trigger annotations can only be the operator's (admission drops them from anyone else's create).
func startedBy(child, parent *v1alpha1.Execution, stage, pipeline string) bool {
	a := child.Annotations
	return metav1.IsControlledBy(child, parent) && child.Spec.Pipeline == pipeline &&
		a[v1alpha1.AnnotationTrigger] == v1alpha1.TriggerPipeline &&
		a[v1alpha1.AnnotationParentExecution] == parent.Name && a[v1alpha1.AnnotationParentStage] == stage
}

// get reads a child from the cache, or from the API server when the cache does not have it yet.
func (p Pipeline) get(ctx context.Context, key types.NamespacedName, ex *v1alpha1.Execution) error {
	err := p.Client.Get(ctx, key, ex)
	if apierrors.IsNotFound(err) && p.APIReader != nil {
		err = p.APIReader.Get(ctx, key, ex)
	}
	return err
}

// Check takes the child's outcome once it has one.
func (p Pipeline) Check(ctx context.Context, s *engine.StageRun) error {
	var child v1alpha1.Execution
	err := p.get(ctx, p.childKey(s), &child)
	if apierrors.IsNotFound(err) {
		s.Fail(fmt.Sprintf("execution %s was deleted before it finished", p.childKey(s).Name))
		return nil
	}
	if err != nil {
		return err
	}
	return p.outcome(s, &child)
}

// outcome takes the child's outcome once it has one.
func (Pipeline) outcome(s *engine.StageRun, child *v1alpha1.Execution) error {
	if err := s.SetOutput("phase", string(child.Status.Phase)); err != nil {
		return err
	}
	switch child.Status.Phase {
	case v1alpha1.ExecutionSucceeded:
		s.Succeed(fmt.Sprintf("execution %s succeeded", child.Name))
	case v1alpha1.ExecutionFailed, v1alpha1.ExecutionCanceled:
		msg := fmt.Sprintf("execution %s is %s", child.Name, child.Status.Phase)
		if c := status.Message(child, v1alpha1.ConditionReady); c != "" {
			msg += ": " + c
		}
		s.Fail(msg)
	default:
		phase := child.Status.Phase
		if phase == "" {
			phase = v1alpha1.ExecutionQueued
		}
		msg := fmt.Sprintf("execution %s is %s", child.Name, phase)
		if child.Status.CurrentStage != "" {
			msg += ", at stage " + child.Status.CurrentStage
		}
		s.Running(msg, timeZero)
	}
	return nil
}

// Cancel cancels the child, if it still runs.
func (p Pipeline) Cancel(ctx context.Context, s *engine.StageRun) error {
	var child v1alpha1.Execution
	if err := p.Client.Get(ctx, p.childKey(s), &child); err != nil {
		return client.IgnoreNotFound(err)
	}
	if child.Spec.Cancel {
		return nil
	}
	patch := client.MergeFrom(child.DeepCopy())
	child.Spec.Cancel = true
	err := p.Client.Patch(ctx, &child, patch)
	if err == nil || apierrors.IsNotFound(err) || !retryable(err) {
		// A refusal that will not change (forbidden, invalid) must not keep the parent from being canceled.
		return nil
	}
	return err
}

// retryable says whether an API error may go away by itself.
func retryable(err error) bool {
	return apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err) ||
		apierrors.IsInternalError(err) || apierrors.IsServiceUnavailable(err) || apierrors.IsConflict(err) ||
		apierrors.IsUnexpectedServerError(err) || !isStatus(err)
}

func isStatus(err error) bool {
	var s apierrors.APIStatus
	return errors.As(err, &s)
}

func (Pipeline) childKey(s *engine.StageRun) types.NamespacedName {
	return types.NamespacedName{Namespace: s.Execution.Namespace, Name: ChildName(s.Execution.Name, s.Spec.Name)}
}

// childChain is the chain of pipelines a child of parent carries: the parent's chain, then the parent's
// pipeline. msg says why the child, of pipeline next, must not start.
func childChain(parent *v1alpha1.Execution, next string) (chain []string, msg string) {
	if c := parent.Annotations[v1alpha1.AnnotationPipelineChain]; c != "" {
		chain = strings.Split(c, ",")
	}
	chain = append(chain, parent.Spec.Pipeline)
	if slices.Contains(chain, next) {
		return nil, fmt.Sprintf("pipeline %s would run inside itself: this run's chain is %s", next, strings.Join(append(chain, next), " -> "))
	}
	if len(chain) >= v1alpha1.MaxPipelineDepth {
		return nil, fmt.Sprintf("pipeline %s would nest runs %d deep, more than %d: this run's chain is %s",
			next, len(chain)+1, v1alpha1.MaxPipelineDepth, strings.Join(chain, " -> "))
	}
	return chain, ""
}

// reentry says whether a child of pipeline next would, through the pipeline stages of the Pipelines it
// leads to (as the cache has them), start a pipeline of chain again, and how. The child's own chain check
// would catch it too, but too late when the pipeline has limitConcurrent: with A starting B and B starting
// A, runs of A and of B at once each start a child that queues behind the other's root, and neither child
// starts to see its chain. The walk goes no deeper than runs may nest, and reads each Pipeline once.
func (p Pipeline) reentry(ctx context.Context, ns string, chain []string, next string) (string, error) {
	// Where a Pipeline was first reached, by how many runs below the parent: one reached again no
	// shallower leads nowhere new.
	reached := map[string]int{}
	var walk func(path []string) (string, error)
	walk = func(path []string) (string, error) {
		name := path[len(path)-1]
		if d, ok := reached[name]; ok && d <= len(path) {
			return "", nil
		}
		reached[name] = len(path)
		if len(chain)+len(path) >= v1alpha1.MaxPipelineDepth {
			return "", nil // its runs may start no children
		}
		var pl v1alpha1.Pipeline
		if err := p.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &pl); err != nil {
			return "", client.IgnoreNotFound(err) // the run of a missing Pipeline starts nothing
		}
		for _, st := range pl.Spec.Stages {
			// A stage behind a when may never run: the chain check of the run that takes it still refuses
			// a pipeline inside itself, so a recursion that is only possible is not refused ahead.
			if st.Pipeline == nil || st.When != "" {
				continue
			}
			to := st.Pipeline.Name
			if slices.Contains(chain, to) {
				return fmt.Sprintf("pipeline %s would run inside itself: %s", to, strings.Join(slices.Concat(chain, path, []string{to}), " -> ")), nil
			}
			if msg, err := walk(slices.Concat(path, []string{to})); msg != "" || err != nil {
				return msg, err
			}
		}
		return "", nil
	}
	return walk([]string{next})
}

// ChildName is the name of the Execution a parent's pipeline stage starts: parent-stage, shortened with a
// hash when that is longer than an object name may be.
func ChildName(parent, stage string) string {
	name := parent + "-" + stage
	if len(name) <= 253 {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return name[:253-17] + "-" + hex.EncodeToString(sum[:8])
}
