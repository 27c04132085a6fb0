package bench

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gennaker/gennaker/controllers/execution"
)

// printTables prints every case of the run, with what the columns mean, to stdout.
func printTables(rows []any) {
	if len(rows) == 0 {
		return
	}
	floors := map[string]floorResult{}
	for _, row := range rows {
		if f, ok := row.(floorResult); ok {
			floors[fmt.Sprint(f.name, f.n)] = f
		}
	}
	fmt.Printf("\nA transition is one stage phase change (NotStarted→Running or Running→Succeeded): %d per run of %d zero waits.\n", transitionsPerRun, waits)
	fmt.Printf("The engine has %d workers; each floor writes %d statuses per object with %d workers. Floors:\n", execution.DefaultWorkers, transitionsPerRun, execution.DefaultWorkers)
	for _, v := range floorVariants {
		fmt.Printf("  %-12s %s\n", v.name, v.help)
	}

	fmt.Println("\nTime (wall: from the first create to the last run Succeeded, as a watch sees it; a run: from its create to its Succeeded)")
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "case\tN\ttransitions\twall\ttransitions/s\tµs/transition\tengine/floor\tengine/floor-sized\trun p50 ms\trun p99 ms\tload avg\t")
	for _, row := range rows {
		switch r := row.(type) {
		case floorResult:
			writes := fmt.Sprintf("%d writes", r.writes)
			if r.objects != r.n {
				writes = fmt.Sprintf("%d writes (%d objects)", r.writes, r.objects)
			}
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%.0f writes/s\t%.0f µs/write\t\t\t\t\t%s\t\n",
				r.name, r.n, writes, r.wall.Round(time.Millisecond), float64(r.writes)/r.wall.Seconds(), r.nsPerWrite()/1e3, r.load)
		case engineResult:
			ratio := func(name string) string {
				if f, ok := floors[fmt.Sprint(name, r.n)]; ok {
					return fmt.Sprintf("%.3f", r.nsPerTransition()/f.nsPerWrite())
				}
				return ""
			}
			fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%.0f\t%.1f\t%s\t%s\t%.0f\t%.0f\t%s\t\n",
				r.shape, r.n, r.transitions, r.wall.Round(time.Millisecond), float64(r.transitions)/r.wall.Seconds(),
				r.nsPerTransition()/1e3, ratio("floor"), ratio("floor-sized"),
				ms(percentile(r.runLatency, 50)), ms(percentile(r.runLatency, 99)), r.load)
		}
	}
	_ = w.Flush()

	fmt.Println("\nCost (the manager's requests in the case's namespace, Events included once all were written; CPU while the case ran)")
	w = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "case\tN\tstatus writes/run\twrites/transition\tevents/run\twrites+events/transition\tpipeline writes\tfailed requests\treconciles/run\tCPU ms/run: test process\tapiserver\tetcd\t")
	for _, row := range rows {
		switch r := row.(type) {
		case floorResult:
			per := func(d time.Duration) float64 { return ms(d) / float64(r.objects) }
			fmt.Fprintf(w, "%s\t%d\t%d\t1\t\t\t\t%d\t\t%.1f\t%.1f\t%.1f\t\n",
				r.name, r.n, transitionsPerRun, r.failed, per(r.cpu.Self), per(r.cpu.APIServer), per(r.cpu.Etcd))
		case engineResult:
			t, n := float64(r.transitions), float64(r.n)
			per := func(d time.Duration) float64 { return ms(d) / n }
			fmt.Fprintf(w, "%s\t%d\t%.2f\t%.3f\t%.1f\t%.3f\t%d\t%d\t%.2f\t%.1f\t%.1f\t%.1f\t\n",
				r.shape, r.n, float64(r.all.sum(writesTo(r.ns, "executions/status")))/n,
				float64(r.engineWrites(r.all))/t, float64(r.events(r.all))/n, float64(r.all.sum(writesIn(r.ns)))/t,
				r.all.sum(writesTo(r.ns, "pipelines", "pipelines/status")), r.all.sum(failed(r.ns)),
				r.reconciles/n, per(r.cpu.Self), per(r.cpu.APIServer), per(r.cpu.Etcd))
		}
	}
	_ = w.Flush()

	fmt.Println()
	for _, row := range rows {
		if r, ok := row.(engineResult); ok {
			fmt.Printf("%s N=%d: created in %s; reconciles: %s; Events written: %d when the last run succeeded, %d in all, the last %.0f ms after it; requests: %s\n",
				r.shape, r.n, r.createWall.Round(time.Millisecond), r.byResult, r.events(r.during), r.events(r.all), ms(r.eventsLag), describe(r.all, r.ns))
		}
	}
	fmt.Println()
}

// describe lists the request counts of namespace ns as "verb resource code: n", sorted.
func describe(c counts, ns string) string {
	var parts []string
	for r, n := range c {
		if r.Namespace != ns {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %s %d: %d", r.Verb, r.Resource, r.Code, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
