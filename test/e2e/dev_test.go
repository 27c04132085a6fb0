// Package e2e holds tests of the whole product as a user runs it.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	. "github.com/onsi/gomega"

	"github.com/gennaker/gennaker/test/testenv"
)

// devBinaries builds what `make dev` builds into a temporary folder and returns the environment that points
// hack/dev.sh at it. The plugin is built only once its package exists (another change brings it).
func devBinaries(t *testing.T) []string {
	t.Helper()
	g := NewWithT(t)
	root := testenv.Root()
	k8sBin := os.Getenv("KUBEBUILDER_ASSETS")
	if k8sBin == "" {
		k8sBin = filepath.Join(root, "bin", "k8s", testenv.K8sVersion)
	}
	bin := t.TempDir()
	pkgs := map[string]string{
		"MANAGER": "./cmd/manager", "RECEIVER": "./test/receiver", "REGISTRY": "./test/registry", "AWSSIM": "./test/cloudsim/cmd/awssim",
		"GCPSIM": "./test/cloudsim/cmd/gcpsim", "AZURESIM": "./test/cloudsim/cmd/azuresim",
	}
	env := []string{"K8S_BIN=" + k8sBin, "KUBECTL_GENNAKER=" + filepath.Join(bin, "kubectl-gennaker")}
	if _, err := os.Stat(filepath.Join(root, "cmd", "kubectl-gennaker")); err == nil {
		pkgs["KUBECTL_GENNAKER"] = "./cmd/kubectl-gennaker"
	}
	for name, pkg := range pkgs {
		out := filepath.Join(bin, filepath.Base(pkg))
		build := exec.Command("go", "build", "-o", out, pkg)
		build.Dir = root
		b, err := build.CombinedOutput()
		g.Expect(err).NotTo(HaveOccurred(), string(b))
		env = append(env, name+"="+out)
	}
	return env
}

// TestMakeDevSmoke runs what `make dev` runs, hack/dev.sh, in its smoke-test mode: a real etcd and
// kube-apiserver with token authentication and RBAC, the CRDs and config/rbac installed, the three cloud
// simulators, and the manager binary running with only that RBAC. The script applies
// config/samples/quickstart, runs demo to Succeeded on the three clouds (started and approved with the
// plugin if it is built, else with kubectl create and patch), pushes a build to the dev registry and follows
// it through demo-bake's AMI to a triggered demo run that succeeds, then applies config/samples, runs the
// release-gate demo (it waits for a judgment, is approved with kubectl patch and calls the webhook receiver)
// and the shop-release demo (a red/black of shop-main-v000 to v001 on the AWS simulator), fails on any RBAC
// "forbidden" in the manager's log, and stops everything.
func TestMakeDevSmoke(t *testing.T) {
	g := NewWithT(t)
	root := testenv.Root()
	env := devBinaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dev := exec.CommandContext(ctx, "bash", filepath.Join(root, "hack", "dev.sh"))
	dev.Dir = root
	dev.Env = append(append(os.Environ(), env...), "DEV_DIR="+t.TempDir(), "DEV_EXIT_AFTER_READY=1")
	// SIGTERM, not SIGKILL, on timeout: the script's trap then stops the servers it started.
	dev.Cancel = func() error { return dev.Process.Signal(syscall.SIGTERM) }
	dev.WaitDelay = 30 * time.Second
	b, err := dev.CombinedOutput()
	out := string(b)
	g.Expect(err).NotTo(HaveOccurred(), out)
	for _, want := range []string{
		"kubectl gennaker start demo --watch",
		"kubectl gennaker approve <run> go-no-go",
		"cloudaccount.delivery.gennaker.io/aws-sim condition met",
		"cloudaccount.delivery.gennaker.io/gcp-sim condition met",
		"cloudaccount.delivery.gennaker.io/azure-sim condition met",
		"servergroup.delivery.gennaker.io/shop-main-v000",
		"pipeline.delivery.gennaker.io/shop-release",
		"execution.delivery.gennaker.io/release-gate-demo",
		"servergroup.delivery.gennaker.io/shop-main-v001",
		"smoke test passed",
	} {
		g.Expect(out).To(ContainSubstring(want))
	}
	// kubectl's columns widen with the longest run name (the triggered runs'), so the spacing varies.
	for _, want := range []string{
		`release-gate-demo +release-gate +AwaitingJudgment`,
		`release-gate-demo +release-gate +Succeeded`,
		`shop-release-demo +shop-release +Running`,
	} {
		g.Expect(out).To(MatchRegexp(want))
	}
	// Nothing make dev applies names a real cloud's account.
	g.Expect(out).NotTo(ContainSubstring("aws-prod"))
	// demo, on the three clouds: while it waits at go-no-go, v001 takes the traffic and v000 is out of the
	// load balancer but still running; after the approval v000 is scaled to zero.
	for _, c := range []struct{ name, account, region string }{
		{"aws", "aws-sim", "us-east-1"}, {"gcp", "gcp-sim", "europe-west1"}, {"azure", "azure-sim", "westeurope"},
	} {
		g.Expect(out).To(MatchRegexp(`(?s)demo waits at go-no-go.*demo-%s-v000\s+%s\s+%s\s+2\s+2\s+Disabled\s+True.*demo succeeded`, c.name, c.account, c.region))
		g.Expect(out).To(MatchRegexp(`(?s)demo succeeded on the three clouds.*demo-%s-v000\s+%s\s+%s\s+0\s+0\s+Disabled\s+True`, c.name, c.account, c.region))
		g.Expect(out).To(MatchRegexp(`(?s)demo succeeded on the three clouds.*demo-%s-v001\s+%s\s+%s\s+2\s+2\s+Enabled\s+True`, c.name, c.account, c.region))
	}
	g.Expect(out).To(MatchRegexp(`demo-\w+\s+demo\s+Succeeded`))
	// After the approval, the old version is scaled down and out of traffic, the new one takes it.
	g.Expect(out).To(MatchRegexp(`shop-main-v000\s+aws-sim\s+us-east-1\s+0\s+0\s+Disabled\s+True`))
	g.Expect(out).To(MatchRegexp(`shop-main-v001\s+aws-sim\s+us-east-1\s+3\s+3\s+Enabled\s+True`))
}

// TestMakeDevStopsEverything starts hack/dev.sh as a user does, in a terminal (a pseudo-terminal here) with
// its output piped to tee, waits for the ready banner, then ends it the two ways a user does: Ctrl-C
// (the terminal sends SIGINT to the whole foreground process group, tee included, so every later write of
// the script goes to a dead pipe) and closing the terminal (SIGHUP). Afterwards no process that the run
// started is left, and every port it printed is free again.
func TestMakeDevStopsEverything(t *testing.T) {
	env := devBinaries(t)
	for name, end := range map[string]func(tty *os.File) error{
		"ctrl-c": func(tty *os.File) error { _, err := tty.Write([]byte{0x03}); return err },
		"hangup": func(tty *os.File) error { return tty.Close() },
	} {
		t.Run(name, func(t *testing.T) { devStopsEverything(t, env, end) })
	}
}

func devStopsEverything(t *testing.T, env []string, end func(tty *os.File) error) {
	g := NewWithT(t)
	root := testenv.Root()
	dir := t.TempDir()
	devDir := filepath.Join(dir, "dev")
	// 2>&1: the script's stderr (its progress lines) goes through tee too, as in `make dev 2>&1 | tee`.
	// The Makefile runs dev.sh as the project's does, so make's own signal handling is part of the test.
	makefile := filepath.Join(dir, "Makefile")
	g.Expect(os.WriteFile(makefile, []byte("dev:\n\thack/dev.sh\n"), 0o600)).To(Succeed())
	shell := fmt.Sprintf("make -f %s dev 2>&1 | tee %s", makefile, filepath.Join(dir, "dev.log"))

	tty, err := startInTerminal(root, append(append(os.Environ(), env...), "DEV_DIR="+devDir), "bash", "-c", shell)
	g.Expect(err).NotTo(HaveOccurred())
	defer tty.close()

	select {
	case <-tty.saw("Ctrl-C stops"):
	case <-time.After(90 * time.Second):
		t.Fatalf("no ready banner within 90s:\n%s", tty.output())
	}
	pids := pidsOf(t, devDir)
	g.Expect(pids).To(HaveLen(9), "dev.sh, etcd, kube-apiserver, receiver, registry, 3 simulators, manager: %v", pids)
	ports := portsIn(tty.output())
	g.Expect(len(ports)).To(BeNumerically(">=", 10), tty.output())

	g.Expect(end(tty.master)).To(Succeed())
	select {
	case <-tty.exited:
	case <-time.After(90 * time.Second):
		t.Fatalf("the shell did not exit within 90s of the signal:\n%s", tty.output())
	}
	// Every process the run started is gone (the servers are in sessions of their own, so nothing but
	// the script could have stopped them), and no one listens on its ports any more.
	g.Eventually(func() []string {
		var alive []string
		for name, pid := range pids {
			if isAlive(pid) {
				alive = append(alive, fmt.Sprintf("%s (pid %d)", name, pid))
			}
		}
		return alive
	}, 30*time.Second, 100*time.Millisecond).Should(BeEmpty(), tty.output())
	for _, p := range ports {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)), time.Second)
		if err == nil {
			_ = c.Close()
			t.Errorf("port %d still listens after the run stopped", p)
		}
	}
}

// pidsOf reads the "name pid" lines dev.sh writes to DEV_DIR/pids as it starts each process.
func pidsOf(t *testing.T, devDir string) map[string]int {
	b, err := os.ReadFile(filepath.Join(devDir, "pids"))
	if err != nil {
		t.Fatal(err)
	}
	pids := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 {
			if pid, err := strconv.Atoi(f[1]); err == nil {
				pids[f[0]] = pid
			}
		}
	}
	return pids
}

// portsIn is every 127.0.0.1:PORT and "etcd PORT (peer PORT)" the banner and the ports line name.
func portsIn(out string) []int {
	seen := map[int]bool{}
	var ports []int
	add := func(s string) {
		if p, err := strconv.Atoi(s); err == nil && !seen[p] {
			seen[p] = true
			ports = append(ports, p)
		}
	}
	for _, f := range strings.FieldsFunc(out, func(r rune) bool { return r == ' ' || r == '\n' || r == '/' || r == ',' || r == ')' }) {
		if rest, ok := strings.CutPrefix(f, "127.0.0.1:"); ok {
			add(strings.TrimRight(rest, "\r"))
		}
	}
	if i := strings.Index(out, "ports: etcd "); i >= 0 {
		var etcd, peer int
		if _, err := fmt.Sscanf(out[i:], "ports: etcd %d (peer %d)", &etcd, &peer); err == nil {
			add(strconv.Itoa(etcd))
			add(strconv.Itoa(peer))
		}
	}
	return ports
}

// isAlive: the process exists and is not a zombie.
func isAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndex(s, ") ")
	return i < 0 || !strings.HasPrefix(s[i+2:], "Z")
}

// terminal is a command running in a pseudo-terminal of its own, as a shell in a terminal window: it is
// the session leader, the terminal is its controlling terminal and its process group the foreground one,
// so a 0x03 written to the master is Ctrl-C and closing the master is the window closing (SIGHUP).
type terminal struct {
	master *os.File
	exited chan struct{}

	mu    sync.Mutex
	out   bytes.Buffer
	waits []waiter
}

type waiter struct {
	s  string
	ch chan struct{}
}

func startInTerminal(dir string, env []string, name string, args ...string) (*terminal, error) {
	master, slave, err := openPTY()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		_ = master.Close()
		_ = slave.Close()
		return nil, err
	}
	_ = slave.Close()
	t := &terminal{master: master, exited: make(chan struct{})}
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := master.Read(buf)
			t.mu.Lock()
			t.out.Write(buf[:n])
			kept := t.waits[:0]
			for _, w := range t.waits {
				if strings.Contains(t.out.String(), w.s) {
					close(w.ch)
				} else {
					kept = append(kept, w)
				}
			}
			t.waits = kept
			t.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(t.exited) }()
	return t, nil
}

// saw is closed once the output contains s.
func (t *terminal) saw(s string) <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	ch := make(chan struct{})
	if strings.Contains(t.out.String(), s) {
		close(ch)
	} else {
		t.waits = append(t.waits, waiter{s, ch})
	}
	return ch
}

func (t *terminal) output() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.out.String()
}

func (t *terminal) close() { _ = t.master.Close() }

// openPTY opens a pseudo-terminal pair with the standard library only: /dev/ptmx, unlocked, and the slave
// it names.
func openPTY() (master, slave *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	// The ioctls go through SyscallConn, not master.Fd(): Fd puts the file in blocking mode, and then a
	// Close while the reader goroutine is in Read waits for that Read to return, so closing the terminal
	// would hang nothing up until the script happened to print again.
	var unlock int32
	var n uint32
	ioctl := func(req uintptr, arg unsafe.Pointer) error {
		raw, err := master.SyscallConn()
		if err != nil {
			return err
		}
		var e syscall.Errno
		if err := raw.Control(func(fd uintptr) { _, _, e = syscall.Syscall(syscall.SYS_IOCTL, fd, req, uintptr(arg)) }); err != nil {
			return err
		}
		if e != 0 {
			return e
		}
		return nil
	}
	if err := ioctl(syscall.TIOCSPTLCK, unsafe.Pointer(&unlock)); err != nil {
		_ = master.Close()
		return nil, nil, err
	}
	if err := ioctl(syscall.TIOCGPTN, unsafe.Pointer(&n)); err != nil {
		_ = master.Close()
		return nil, nil, err
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		_ = master.Close()
		return nil, nil, err
	}
	return master, slave, nil
}
