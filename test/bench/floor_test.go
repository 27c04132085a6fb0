package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/execution"
	"github.com/gennaker/gennaker/test/testenv"
)

// A floorVariant is one way to measure the floor: the cost of writing a status on the API server, with
// nothing else going on, as many times as the engine makes transitions.
type floorVariant struct {
	name string
	// sized gives the objects the status of a finished run before the loop (not timed), so that each write
	// stores an object as big as the engine's: a frozen pipeline spec, ten stage statuses, conditions.
	// Without it the objects have no status but the bumped field.
	sized bool
	// rmw GETs the object before each write (read-modify-write without a cache); without it, a write takes
	// the resourceVersion from the previous write's answer: one request per write, as the engine, which
	// reads from its cache.
	rmw  bool
	help string
}

var floorVariants = []floorVariant{
	{name: "floor", rmw: true, help: "small objects, GET + merge patch per write"},
	{name: "floor-patch", help: "small objects, merge patch only"},
	{name: "floor-sized", sized: true, help: "objects the size of a finished run, merge patch only"},
}

// floorResult is what one floor variant measured.
type floorResult struct {
	floorVariant
	// n is the case's number of runs; objects is how many the floor wrote, n but for a capped floor-sized.
	n, objects, writes int
	wall               time.Duration
	cpu                cpu
	failed             int
	load               string
}

func (f floorResult) nsPerWrite() float64 { return float64(f.wall.Nanoseconds()) / float64(f.writes) }

// runFloor measures a floor variant on n Executions of a pipeline that does not exist, created with no
// manager running: with as many workers as the Execution controller has, each object gets transitionsPerRun
// status writes in a row (a run's writes are serial in the engine too), each a merge patch of
// status.currentStage guarded by the resourceVersion, as the engine's writes are.
//
// floor-sized writes at most BENCH_FLOOR_SIZED_MAX (200) objects: on a 2-core machine each of its writes
// takes some 15-19 ms of wall time (the API server validates the frozen pipeline spec on every status
// write), 5½ minutes for 1000 objects, and that cost per write does not depend on the number of objects
// (16.2 ms/write with 100 objects and 16.8 with 1000 in one run).
func runFloor(b *testing.B, v floorVariant, n int, template v1alpha1.ExecutionStatus) floorResult {
	ctx := context.Background()
	f := floorResult{floorVariant: v, n: n, objects: n}
	if v.sized {
		f.objects = min(n, intsFromEnv(b, "BENCH_FLOOR_SIZED_MAX", "200")[0])
	}
	f.writes = f.objects * transitionsPerRun
	ns := env.Namespace(b)
	defer cleanup(b, []client.Object{&v1alpha1.Execution{}}, ns)
	var count counter
	c, err := client.New(count.config(env.Config), client.Options{Scheme: testenv.Scheme})
	if err != nil {
		b.Fatalf("creating the floor's client: %v", err)
	}
	objs := names("floor", f.objects)
	err = within(creators, objs, func(name string) error {
		ex := newExecution(ns, name, "absent")
		if err := c.Create(ctx, ex); err != nil || !v.sized {
			return err
		}
		ex.Status = *template.DeepCopy()
		return c.Status().Update(ctx, ex)
	})
	if err != nil {
		b.Fatalf("creating the floor's objects: %v", err)
	}

	write := func(name string) error {
		ex := &v1alpha1.Execution{}
		if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, ex); err != nil {
			return err
		}
		for i := range transitionsPerRun {
			if v.rmw && i > 0 {
				if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, ex); err != nil {
					return err
				}
			}
			body := fmt.Sprintf(`{"metadata":{"resourceVersion":%q},"status":{"currentStage":"w%d"}}`, ex.ResourceVersion, i)
			if err := c.Status().Patch(ctx, ex, client.RawPatch(types.MergePatchType, []byte(body))); err != nil {
				return err
			}
		}
		return nil
	}
	before, cpu0, start := count.snapshot(), sampleCPU(), time.Now()
	if err := within(execution.DefaultWorkers, objs, write); err != nil {
		b.Fatalf("%s: %v", v.name, err)
	}
	f.wall, f.cpu = time.Since(start), sampleCPU().since(cpu0)
	c0 := count.snapshot().since(before)
	f.failed, f.load = c0.sum(failed(ns)), loadavg()
	if got := c0.sum(writesTo(ns, "executions/status")); got != f.writes {
		b.Errorf("%s made %d status writes, want %d", v.name, got, f.writes)
	}
	return f
}
