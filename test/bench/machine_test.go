package bench

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// cpu is CPU time (user + system) used so far by the processes of the benchmark.
type cpu struct {
	// Self is this process: the manager and the benchmark's own clients.
	Self time.Duration
	// APIServer and Etcd are envtest's child processes.
	APIServer, Etcd time.Duration
}

func (c cpu) since(before cpu) cpu {
	return cpu{Self: c.Self - before.Self, APIServer: c.APIServer - before.APIServer, Etcd: c.Etcd - before.Etcd}
}

// userHZ is the unit of /proc/PID/stat times: 100 on every Linux architecture Go runs on.
const userHZ = 100

// sampleCPU reads the CPU time of this process and of its kube-apiserver and etcd children (Linux only;
// zero elsewhere).
func sampleCPU() cpu {
	var c cpu
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		c.Self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	self := os.Getpid()
	for _, f := range dirs {
		comm, ppid, ticks, ok := readStat(f)
		if !ok || ppid != self {
			continue
		}
		d := time.Duration(ticks) * time.Second / userHZ
		switch comm {
		case "kube-apiserver":
			c.APIServer += d
		case "etcd":
			c.Etcd += d
		}
	}
	return c
}

// readStat reads a process's command name, parent and utime+stime in ticks from /proc/PID/stat.
func readStat(path string) (comm string, ppid int, ticks int64, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", 0, 0, false
	}
	s := string(b)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return "", 0, 0, false
	}
	comm = s[open+1 : end]
	// After the name: state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime.
	f := strings.Fields(s[end+1:])
	if len(f) < 13 {
		return "", 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return comm, ppid, ut + st, true
}

// loadavg is the 1-minute load average, as a string for the report.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// reconciles counts the Execution controller's reconciles so far, by result (success, error, requeue,
// requeue_after), from controller-runtime's metrics. The registry is the process's, shared by every
// manager the benchmark starts: use differences, with one manager at a time.
func reconciles() map[string]float64 {
	out := map[string]float64{}
	families, err := metrics.Registry.Gather()
	if err != nil {
		return out
	}
	for _, mf := range families {
		if mf.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var controller, result string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "controller":
					controller = l.GetValue()
				case "result":
					result = l.GetValue()
				}
			}
			if controller == "execution" {
				out[result] += m.GetCounter().GetValue()
			}
		}
	}
	return out
}

func sumSince(after, before map[string]float64) (total float64, byResult string) {
	var parts []string
	for _, r := range []string{"success", "requeue", "requeue_after", "error"} {
		d := after[r] - before[r]
		total += d
		if d != 0 {
			parts = append(parts, fmt.Sprintf("%s %.0f", r, d))
		}
	}
	return total, strings.Join(parts, ", ")
}

// percentile returns the p-th percentile (0 < p <= 100) of sorted durations, nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
