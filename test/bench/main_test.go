// Package bench benchmarks the pipeline engine against a real kube-apiserver and etcd (envtest):
//
//	make bench    # go test ./test/bench -run '^$' -bench . -benchtime 1x -timeout 40m
//
// BenchmarkEngine runs N Executions (BENCH_N, default "100,1000") of a pipeline of ten zero-length wait
// stages, as a chain (s1 → s2 → … → s10) and as a fan-out (s1, then s2 … s10 on s1), all at once
// (limitConcurrent false). On the same API server in the same run it measures the floor: a tight loop of as
// many status writes on as many objects, with no manager running and as many workers as the engine has
// (see floorVariants). BenchmarkJudgment measures how long a judgment takes to start the stage after it
// (BENCH_JUDGMENTS, default 100).
//
// A transition is one stage changing phase: NotStarted→Running or Running→Succeeded. A run of ten waits
// makes 20 of them; the run's own phase changes are not counted as transitions. The metrics:
//   - transitions/s and ns/transition: transitions of all N runs over the wall time from the first create
//     to the last run seen Succeeded by a watch;
//   - writes/transition: the manager's writes to Executions (status included) per transition;
//     writes+events/transition adds every other write it made in the case's namespace: Events, which the
//     recorder sends asynchronously (counted once all arrived), and the Pipeline's status;
//   - engine/floor: ns/transition of the engine over ns/write of a floor. With as many floor writes as
//     transitions, it is also the ratio of the wall times.
//
// The manager is the one cmd/manager runs (every controller), started with a copy of the administrator's
// config whose transport counts its requests by namespace, verb, resource and answer. Each case has
// namespaces of its own and a manager of its own, stopped before the next case, so nothing carries over.
// The benchmark's own requests (creates, judgments, its watch) are not counted, but load the same API
// server.
//
// Without -bench, TestMain starts no control plane: `make test` runs only the unit tests here.
package bench

import (
	"context"
	"flag"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/test/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		os.Exit(m.Run())
	}
	testenv.Main(m, &env)
}

// sizes are the numbers of Executions BenchmarkEngine runs, from BENCH_N ("100,1000" by default).
func sizes(b *testing.B) []int {
	return intsFromEnv(b, "BENCH_N", "100,1000")
}

// judgments is how many judgments BenchmarkJudgment times, from BENCH_JUDGMENTS (100 by default).
func judgments(b *testing.B) int {
	return intsFromEnv(b, "BENCH_JUDGMENTS", "100")[0]
}

func intsFromEnv(b *testing.B, name, def string) []int {
	s := os.Getenv(name)
	if s == "" {
		s = def
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			b.Fatalf("%s=%q: want positive integers separated by commas", name, s)
		}
		out = append(out, n)
	}
	return out
}

// tracker follows the Executions of one namespace with an informer of its own, as `kubectl get -w` would:
// one LIST and one WATCH on the API server, made with the administrator's config (not counted). It calls
// on with every version it sees, under its lock, at the time the watch delivered it.
type tracker struct {
	mu      sync.Mutex
	changed chan struct{}
	stop    context.CancelFunc
}

func track(b *testing.B, ns string, on func(ex *v1alpha1.Execution, at time.Time)) *tracker {
	return watch(b, ns, &v1alpha1.Execution{}, func(obj any, deleted bool, at time.Time) {
		if ex, ok := obj.(*v1alpha1.Execution); ok && !deleted {
			on(ex, at)
		}
	})
}

// watch is what the trackers share: an informer of one kind in namespace ns whose every add, update and
// delete is passed to on, under the tracker's lock, with the time it was seen.
func watch(b *testing.B, ns string, kind client.Object, on func(obj any, deleted bool, at time.Time)) *tracker {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c, err := cache.New(env.Config, cache.Options{Scheme: testenv.Scheme, DefaultNamespaces: map[string]cache.Config{ns: {}}})
	if err != nil {
		b.Fatalf("creating the tracker's cache: %v", err)
	}
	inf, err := c.GetInformer(ctx, kind)
	if err != nil {
		b.Fatalf("getting the tracker's informer: %v", err)
	}
	t := &tracker{changed: make(chan struct{}, 1), stop: cancel}
	see := func(obj any, deleted bool) {
		if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		at := time.Now()
		t.mu.Lock()
		on(obj, deleted, at)
		t.mu.Unlock()
		select {
		case t.changed <- struct{}{}:
		default:
		}
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { see(obj, false) },
		UpdateFunc: func(_, obj any) { see(obj, false) },
		DeleteFunc: func(obj any) { see(obj, true) },
	}); err != nil {
		b.Fatalf("adding the tracker's handler: %v", err)
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		b.Fatalf("the tracker's cache did not sync")
	}
	b.Cleanup(cancel)
	return t
}

// wait waits until cond, called under the tracker's lock, holds, or timeout passes; it reports which.
func (t *tracker) wait(timeout time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		t.mu.Lock()
		ok := cond()
		t.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-t.changed:
		case <-deadline.C:
			return false
		}
	}
}

// within runs f on items with workers goroutines and returns the first error.
func within[T any](workers int, items []T, f func(T) error) error {
	ch := make(chan T)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var first error
			for it := range ch {
				if err := f(it); err != nil && first == nil {
					first = err
				}
			}
			errs <- first
		}()
	}
	for _, it := range items {
		ch <- it
	}
	close(ch)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// cleanup deletes what a case left in its namespaces, so that etcd and the caches of later cases stay
// small (envtest has no namespace controller to do it).
func cleanup(b *testing.B, objs []client.Object, namespaces ...string) {
	b.Helper()
	ctx := context.Background()
	for _, ns := range namespaces {
		for _, o := range objs {
			if err := env.Client.DeleteAllOf(ctx, o, client.InNamespace(ns)); err != nil {
				b.Logf("deleting %T in %s: %v", o, ns, err)
			}
		}
	}
}
