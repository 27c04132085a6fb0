#!/usr/bin/env bash
# hack/dev.sh — the three-cloud quickstart: Gennaker for real on this machine, without Docker, kind or a
# cloud account:
#
#   etcd + kube-apiserver on free loopback ports  ->  CRDs (config/crd) and RBAC (config/rbac, named as
#   config/default names it) installed  ->  the AWS, GCP and Azure simulators (test/cloudsim) on loopback
#   ports  ->  bin/manager running as its service account, with a token, so it has exactly the permissions
#   config/rbac grants it (any "forbidden" in its log means the RBAC is short), and with
#   --webhook-self-signed: it serves the admission webhooks on 127.0.0.1 with a CA of its own and installs
#   their configurations (config/selfsigned grants it that), so approvals say who judged  ->
#   config/samples/quickstart/ applied: a CloudAccount per simulated cloud, a v000 ServerGroup taking traffic
#   in each, and the Pipeline demo, which red/blacks the three clouds at once behind one manual judgment.
#   It then prints the commands that run demo (kubectl gennaker start demo --watch, approve).
#
# Nothing it applies talks to a real cloud: samples with real credentials are in config/examples/.
#
# Ctrl-C (SIGINT/SIGTERM/SIGHUP), or the manager exiting, stops everything in order: the manager, then the
# simulators, then kube-apiserver, then etcd; also when the output is piped (make dev 2>&1 | tee dev.log: the
# tee dies with the same Ctrl-C, and a write to it must not kill this script before it has stopped the
# servers) or the terminal closes. (Started with & from another script, bash makes it ignore SIGINT: send
# SIGTERM.) If this script is SIGKILLed, the next run with the same DEV_DIR stops what it left behind.
# No kube-controller-manager, scheduler or kubelet: Pods never run here, which the operator does not need
# (it only manages its own custom resources).
#
# Usage:  make dev                  (builds first, then runs this)
#         K8S_BIN=bin/k8s/v1.37.2 MANAGER=bin/manager hack/dev.sh
#
# Environment (all optional):
#   K8S_BIN               directory holding etcd, kube-apiserver and kubectl (default: newest bin/k8s/v*)
#   MANAGER               the manager binary (default: bin/manager)
#   KUBECTL_GENNAKER      the kubectl plugin (default: bin/kubectl-gennaker, from cmd/kubectl-gennaker); put on
#                         PATH by the env file, and used by the smoke test when it exists
#   RECEIVER              the demo's webhook receiver (default: bin/receiver, built from test/receiver)
#   DEV_WEBHOOK_PORT      its port (default 18090: the sample pipeline release-gate calls 127.0.0.1:18090)
#   REGISTRY              the demo's container registry (default: bin/registry, built from test/registry)
#   DEV_REGISTRY_PORT     its port (default 18094: the quickstart's trigger new-build watches 127.0.0.1:18094)
#   AWSSIM                the AWS simulator (default: bin/awssim, built from test/cloudsim/cmd/awssim)
#   DEV_AWS_PORT          its port (default 18091: the sample CloudAccount aws-sim points at 127.0.0.1:18091)
#   GCPSIM, DEV_GCP_PORT  the GCP Compute simulator (default: bin/gcpsim, from test/cloudsim/cmd/gcpsim) and its
#                         port (default 18092: the sample CloudAccount gcp-sim); it writes the service-account
#                         key that this script puts in the Secret gcp-sim-credentials
#   AZURESIM, DEV_AZURE_PORT
#                         the Azure Resource Manager simulator (default: bin/azuresim, from
#                         test/cloudsim/cmd/azuresim) and its port (default 18093: the sample CloudAccount
#                         azure-sim); it serves TLS with a certificate of its own, which the manager trusts
#                         through SSL_CERT_DIR
#   DEV_DIR               state directory (default: bin/dev). Wiped at every start, so each run is clean; for
#                         safety only if it is empty or was made by this script.
#   DEV_ETCD_PORT, DEV_ETCD_PEER_PORT, DEV_APISERVER_PORT, DEV_HEALTH_PORT, DEV_METRICS_PORT, DEV_ADMISSION_PORT
#                         fixed ports instead of random free ones (all bound on 127.0.0.1 only)
#   DEV_READY_TIMEOUT     seconds to wait for kube-apiserver, and then for the manager, to be ready (default 60)
#   DEV_MANAGER_ARGS      extra manager flags, word-split (default: --zap-devel, human-readable logs)
#   DEV_EXIT_AFTER_READY=1
#                         smoke test: once the manager is ready and leader, run the quickstart's demo to
#                         Succeeded on the three clouds (started and approved with the plugin when it exists,
#                         else with kubectl create and kubectl patch), push demo/app:1.1.0 to the registry
#                         and follow it (demo-bake bakes an AMI, new-ami starts demo, approved, Succeeded),
#                         apply config/samples/, print
#                         `kubectl get gennaker -A`, run the release-gate demo to the end (it waits for a
#                         judgment, is approved with kubectl patch, calls the receiver, succeeds), run the
#                         shop-release demo (a red/black on the AWS simulator, approved the same way), check
#                         the manager log has no RBAC "forbidden" error, stop everything and exit 0 (1 on any
#                         failure). E.g.
#                           K8S_BIN=$PWD/bin/k8s/v1.37.2 MANAGER=$PWD/bin/manager DEV_EXIT_AFTER_READY=1 hack/dev.sh
#
# Files in DEV_DIR: kubeconfig (admin, system:masters), manager.kubeconfig (the manager's token), env (source it
# from another terminal), etcd.log, kube-apiserver.log, manager.log, pki/ (kube-apiserver's self-signed serving
# certificate), sa.key/sa.pub (service-account token signing), tokens.csv, rbac/ (the kustomization applied).
set -euo pipefail

# The state dir holds tokens and keys: keep it private to this user.
umask 077

# bash prints EPOCHREALTIME with the locale's decimal separator; C keeps the arithmetic below simple.
LC_ALL=C
export LC_ALL

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)

# Names as config/default makes them (namespace + namePrefix); the manager's token must name the same
# service account that config/rbac binds, or this run would prove nothing about the RBAC.
NS=gennaker-system
PREFIX=gennaker-
SA=${PREFIX}controller-manager
SA_USER=system:serviceaccount:$NS:$SA
LEASE=gennaker.delivery.gennaker.io # LeaderElectionID in cmd/manager/main.go

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
warn() { printf '\033[1;33m==> %s\033[0m\n' "$*" >&2; }
die() {
	printf '\033[1;31m==> %s\033[0m\n' "$*" >&2
	exit 1
}

# Milliseconds since the epoch, and a duration in seconds with one decimal, without forking date or awk.
now_ms() {
	local t=${EPOCHREALTIME/./}
	echo $((t / 1000))
}
since() {
	local ms=$(($(now_ms) - $1))
	echo "$((ms / 1000)).$(((ms % 1000) / 100))s"
}
T0=$(now_ms)

# ---------------------------------------------------------------------------------------------------------
# Inputs. Paths are made absolute before we cd to the repository (config/ paths are relative to it).

if [[ -z ${K8S_BIN:-} ]]; then
	K8S_BIN=$(printf '%s\n' "$REPO"/bin/k8s/v* | sort -V | tail -n 1)
	[[ -d $K8S_BIN ]] || die "no control plane in bin/k8s: run 'make k8s-bin' (or set K8S_BIN)"
fi
K8S_BIN=$(realpath -m -- "$K8S_BIN")
MANAGER=$(realpath -m -- "${MANAGER:-$REPO/bin/manager}")
KUBECTL_GENNAKER=$(realpath -m -- "${KUBECTL_GENNAKER:-$REPO/bin/kubectl-gennaker}")
RECEIVER=$(realpath -m -- "${RECEIVER:-$REPO/bin/receiver}")
DEV_WEBHOOK_PORT=${DEV_WEBHOOK_PORT:-18090}
REGISTRY=$(realpath -m -- "${REGISTRY:-$REPO/bin/registry}")
DEV_REGISTRY_PORT=${DEV_REGISTRY_PORT:-18094}
AWSSIM=$(realpath -m -- "${AWSSIM:-$REPO/bin/awssim}")
DEV_AWS_PORT=${DEV_AWS_PORT:-18091}
GCPSIM=$(realpath -m -- "${GCPSIM:-$REPO/bin/gcpsim}")
DEV_GCP_PORT=${DEV_GCP_PORT:-18092}
AZURESIM=$(realpath -m -- "${AZURESIM:-$REPO/bin/azuresim}")
DEV_AZURE_PORT=${DEV_AZURE_PORT:-18093}
DEV_DIR=$(realpath -m -- "${DEV_DIR:-$REPO/bin/dev}")
DEV_READY_TIMEOUT=${DEV_READY_TIMEOUT:-60}
DEV_EXIT_AFTER_READY=${DEV_EXIT_AFTER_READY:-0}
DEV_MANAGER_ARGS=${DEV_MANAGER_ARGS---zap-devel}

for b in etcd kube-apiserver kubectl; do
	[[ -x $K8S_BIN/$b ]] || die "$K8S_BIN/$b is missing: run 'make k8s-bin' (or set K8S_BIN)"
done
[[ -x $MANAGER ]] || die "$MANAGER is missing: run 'make build' (or set MANAGER)"
[[ $DEV_READY_TIMEOUT =~ ^[0-9]+$ ]] || die "DEV_READY_TIMEOUT must be a number of seconds"
cd "$REPO"

# ---------------------------------------------------------------------------------------------------------
# Process handling. Each server runs in its own session (setsid) so that Ctrl-C, which the terminal sends to
# the whole foreground process group, reaches only this script: it then stops them one by one, in order.
# (Started with & from this non-interactive shell, the child is not a process-group leader, so setsid
# execs in place and $! is the server's own pid.)

ETCD_PID='' APISERVER_PID='' MANAGER_PID='' TAIL_PID='' OWN_DIR=0
exec {OUT}>&1 {ERR}>&2 # the script's own stdout/stderr, for cleanup (servers get them closed: {OUT}>&-)

# running PID [PARENT]: the process exists, is not a zombie (`kill -0` would succeed on one) and, if PARENT
# is given, is PARENT's child (so a recycled pid is never mistaken for ours). bash reaps its children by
# itself, so a dead child soon has no /proc entry at all; `wait PID` still returns its status.
running() {
	local s
	read -r s 2>/dev/null <"/proc/$1/stat" || return 1 # (2>/dev/null first: it must cover the <)
	s=${s##*) } # fields after "pid (comm) ": state ppid ...
	[[ ${s%% *} != Z ]] || return 1
	s=${s#* }
	[[ -z ${2:-} || ${s%% *} == "$2" ]]
}

# stop NAME PID GRACE [PARENT]: SIGTERM, up to GRACE seconds to exit, then SIGKILL; reaps it if it is our child.
stop() {
	local name=$1 pid=$2 grace=$3 parent=${4:-} t
	[[ -n $pid ]] || return 0
	if running "$pid" "$parent"; then
		log "stopping $name (pid $pid)"
		t=$(now_ms)
		kill -TERM "$pid" 2>/dev/null || true
		while running "$pid" "$parent"; do
			if (($(now_ms) - t > grace * 1000)); then
				warn "$name did not stop within ${grace}s: killing it"
				kill -KILL "$pid" 2>/dev/null || true
				t=$(now_ms) # give the kernel a moment before the next check
				grace=5
			fi
			sleep 0.1
		done
	fi
	[[ -z $parent ]] || wait "$pid" 2>/dev/null || true
}

# The order matters: the manager first (it releases its leader lease through the API server), then
# kube-apiserver, waiting until it is gone, and etcd a moment later. Killing apiserver and etcd together
# can keep etcd's port busy for ~2 minutes, which breaks an immediate re-run.
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	local rc=$?
	# The signal's trap may have run in the middle of a builtin whose output was redirected (bash runs traps
	# inside `read`, e.g. `read ... 2>/dev/null`): put the terminal back, or the shutdown would be silent.
	exec 1>&"$OUT" 2>&"$ERR"
	# A second Ctrl-C must not cut the ordered shutdown short; every step below is bounded. Nor may a dead
	# reader: with `make dev 2>&1 | tee dev.log`, the same Ctrl-C (or hang-up) kills tee, and the first line
	# written below would kill this script with SIGPIPE, leaving every server running. Ignored, the write
	# only fails.
	trap '' INT TERM HUP PIPE
	set +e
	stop manager "$MANAGER_PID" 20 $$
	if [[ -n $TAIL_PID ]]; then # the log follower ends by itself once the manager is gone (tail --pid)
		local t
		t=$(now_ms)
		while running "$TAIL_PID" $$ && (($(now_ms) - t < 3000)); do sleep 0.1; done
		stop 'manager log follower' "$TAIL_PID" 1 $$ 2>/dev/null
	fi
	stop 'webhook receiver' "${RECEIVER_PID:-}" 5 $$
	stop 'container registry' "${REGISTRY_PID:-}" 5 $$
	stop 'AWS simulator' "${AWSSIM_PID:-}" 5 $$
	stop 'GCP simulator' "${GCPSIM_PID:-}" 5 $$
	stop 'Azure simulator' "${AZURESIM_PID:-}" 5 $$
	stop kube-apiserver "$APISERVER_PID" 30 $$
	[[ -n $ETCD_PID ]] && running "$ETCD_PID" $$ && sleep 1
	stop etcd "$ETCD_PID" 15 $$
	((OWN_DIR)) && rm -f "$DEV_DIR/pids" # not if we refused to start because another run owns DEV_DIR
	if [[ -n $ETCD_PID ]]; then
		log "stopped (exit $rc) after $(since "$T0"); logs and state are kept in ${DEV_DIR#"$REPO"/}/"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
# A reader gone before any signal reached us (tee killed on its own): stop everything too. A handled
# signal, unlike an ignored one, is reset to its default in the servers started below.
trap 'exit 141' PIPE

# fail_with_log NAME MESSAGE: show the end of a server's log, then fail.
fail_with_log() {
	warn "last lines of $DEV_DIR/$1.log:"
	tail -n 25 "$DEV_DIR/$1.log" >&2 || true
	die "$2"
}

# ---------------------------------------------------------------------------------------------------------
# 1. State dir, wiped so every run starts from an empty etcd. Refuse to wipe a directory this script did not
# make (DEV_DIR=$HOME by mistake), or one another dev.sh still uses; stop what a killed run left behind.

MARKER=.gennaker-dev
if [[ -e $DEV_DIR ]]; then
	[[ -d $DEV_DIR ]] || die "DEV_DIR=$DEV_DIR is not a directory"
	if [[ -f $DEV_DIR/$MARKER ]]; then
		if [[ -f $DEV_DIR/pids ]]; then
			# Lines "name pid". First: is the run that wrote them still going? Then stop what it left, in the
			# usual order; only processes whose environment names this DEV_DIR (GENNAKER_DEV_DIR, below) are
			# taken for ours, so a recycled pid is left alone.
			declare -A OLD=()
			while read -r name pid; do
				if [[ $pid =~ ^[0-9]+$ ]]; then OLD[$name]=$pid; fi
			done <"$DEV_DIR/pids"
			if [[ -n ${OLD[dev.sh]:-} ]] && running "${OLD[dev.sh]}" &&
				[[ $(tr '\0' ' ' <"/proc/${OLD[dev.sh]}/cmdline" 2>/dev/null) == *dev.sh* ]]; then
				die "another hack/dev.sh (pid ${OLD[dev.sh]}) is using $DEV_DIR: stop it first (Ctrl-C)"
			fi
			for name in manager receiver registry awssim gcpsim azuresim kube-apiserver etcd; do
				pid=${OLD[$name]:-}
				if [[ -z $pid ]] || ! running "$pid"; then continue; fi
				grep -qzxF "GENNAKER_DEV_DIR=$DEV_DIR" "/proc/$pid/environ" 2>/dev/null || continue
				warn "a previous run of hack/dev.sh left $name (pid $pid) running"
				stop "$name" "$pid" 15
				[[ $name != kube-apiserver ]] || sleep 1
			done
		fi
	elif [[ -n $(ls -A "$DEV_DIR") ]]; then
		die "DEV_DIR=$DEV_DIR is not empty and was not made by hack/dev.sh: refusing to wipe it"
	fi
	rm -rf "$DEV_DIR"
fi
# Every server started below carries this in its environment: how a later run knows them for ours.
export GENNAKER_DEV_DIR=$DEV_DIR
mkdir -p "$DEV_DIR/pki" "$DEV_DIR/rbac"
touch "$DEV_DIR/$MARKER"
echo "dev.sh $$" >"$DEV_DIR/pids"
OWN_DIR=1

# ---------------------------------------------------------------------------------------------------------
# 2. Ports: random ones that no local TCP socket uses (any state, read from /proc so no ss/netstat needed),
# taken below the kernel's ephemeral range so that outgoing connections cannot grab them meanwhile. (awk
# picks the fields: bash's `read` straight from /proc/net/tcp reads a byte per system call, seconds on a
# busy machine.)
TAKEN=" " LISTENING=" "
while read -r hexport state; do
	TAKEN+="$((16#$hexport)) "
	[[ $state != 0A ]] || LISTENING+="$((16#$hexport)) " # 0A: TCP_LISTEN
done < <(awk 'FNR > 1 { split($2, a, ":"); print a[2], $4 }' /proc/net/tcp /proc/net/tcp6 2>/dev/null | sort -u)
read -r EPH_LO EPH_HI </proc/sys/net/ipv4/ip_local_port_range
if ((EPH_LO > 21000)); then PORT_MIN=20000 PORT_MAX=$((EPH_LO - 1)); else PORT_MIN=$((EPH_HI + 1)) PORT_MAX=65535; fi

CHOSEN=" "
# port VAR ENVVAR: VAR = $ENVVAR if set (nothing may listen on it), else a random free port. Sets a global
# rather than printing, so that TAKEN keeps the ports already chosen and all five differ.
port() {
	local p=${!2:-} i
	if [[ -n $p ]]; then
		if ! [[ $p =~ ^[0-9]+$ ]] || ((p < 1 || p > 65535)); then die "$2=$p is not a port number"; fi
		# A fixed port only has to be free of listeners (a TIME-WAIT left by the previous run is no obstacle:
		# Go servers bind with SO_REUSEADDR), and must not repeat another of ours.
		[[ $LISTENING != *" $p "* ]] || die "$2=$p: something already listens on that port"
		[[ $CHOSEN != *" $p "* ]] || die "$2=$p: that port is already used for another component"
	else
		for ((i = 0; ; i++)); do
			((i < 500)) || die "found no free port in $PORT_MIN-$PORT_MAX"
			p=$((PORT_MIN + (RANDOM * 32768 + RANDOM) % (PORT_MAX - PORT_MIN + 1)))
			[[ $TAKEN == *" $p "* ]] || break
		done
	fi
	TAKEN+="$p " CHOSEN+="$p "
	printf -v "$1" %s "$p"
}
port ETCD_PORT DEV_ETCD_PORT
port ETCD_PEER_PORT DEV_ETCD_PEER_PORT
port APISERVER_PORT DEV_APISERVER_PORT
port HEALTH_PORT DEV_HEALTH_PORT
port METRICS_PORT DEV_METRICS_PORT
port ADMISSION_PORT DEV_ADMISSION_PORT
port WEBHOOK_PORT DEV_WEBHOOK_PORT
port REGISTRY_PORT DEV_REGISTRY_PORT
port AWS_PORT DEV_AWS_PORT
port GCP_PORT DEV_GCP_PORT
port AZURE_PORT DEV_AZURE_PORT
log "ports: etcd $ETCD_PORT (peer $ETCD_PEER_PORT), kube-apiserver $APISERVER_PORT, manager health $HEALTH_PORT, metrics $METRICS_PORT, admission webhooks $ADMISSION_PORT"

# ---------------------------------------------------------------------------------------------------------
# 3. Credentials. kube-apiserver refuses to start without a key to sign service-account tokens (and one to
# check them); nothing here uses such tokens, so a throwaway RSA pair is enough. openssl makes it; without
# openssl, Go's standard library does (Go is needed to build the manager anyway).

if command -v openssl >/dev/null 2>&1; then
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$DEV_DIR/sa.key" 2>/dev/null
	openssl pkey -in "$DEV_DIR/sa.key" -pubout -out "$DEV_DIR/sa.pub"
elif command -v go >/dev/null 2>&1; then
	warn "openssl not found (apt-get install openssl): generating the service-account key with Go"
	cat >"$DEV_DIR/keygen.go" <<'EOF'
// Writes an RSA private key (PKCS#8 PEM) and its public key (PKIX PEM): os.Args[1], os.Args[2].
package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
)

func main() {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	check(err)
	priv, err := x509.MarshalPKCS8PrivateKey(k)
	check(err)
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	check(err)
	check(os.WriteFile(os.Args[1], pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: priv}), 0o600))
	check(os.WriteFile(os.Args[2], pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o600))
}

func check(err error) {
	if err != nil {
		panic(err)
	}
}
EOF
	# GOPATH mode: a lone standard-library file, independent of this module's go.mod and toolchain line.
	(cd "$DEV_DIR" && GO111MODULE=off GOFLAGS='' GOTOOLCHAIN=local go run keygen.go sa.key sa.pub)
else
	die "need openssl to generate keys: apt-get install openssl (or have Go on PATH)"
fi

# Static bearer tokens (--token-auth-file lines: token,user,uid,"groups"), random for every run.
token() { od -An -v -N24 -tx1 /dev/urandom | tr -d ' \n'; }
ADMIN_TOKEN=$(token)
MANAGER_TOKEN=$(token)
# The manager authenticates as its service account would in a Pod: same user name and groups, so RBAC
# bindings to that ServiceAccount (and to the service-account groups) apply, and system:masters does not.
cat >"$DEV_DIR/tokens.csv" <<EOF
$ADMIN_TOKEN,admin,admin,"system:masters"
$MANAGER_TOKEN,$SA_USER,$SA,"system:serviceaccounts,system:serviceaccounts:$NS,system:authenticated"
EOF

# ---------------------------------------------------------------------------------------------------------
# 4. etcd and kube-apiserver, logs to files.

log "starting etcd and kube-apiserver (logs in ${DEV_DIR#"$REPO"/}/)"
# --unsafe-no-fsync: a throwaway dev store does not need durable writes, and fsync is most of etcd's latency.
setsid "$K8S_BIN/etcd" \
	--name=dev \
	--data-dir="$DEV_DIR/etcd" \
	--listen-client-urls="http://127.0.0.1:$ETCD_PORT" \
	--advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
	--listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
	--initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
	--initial-cluster="dev=http://127.0.0.1:$ETCD_PEER_PORT" \
	--unsafe-no-fsync \
	--log-level=warn \
	>"$DEV_DIR/etcd.log" 2>&1 </dev/null {OUT}>&- {ERR}>&- &
ETCD_PID=$!
echo "etcd $ETCD_PID" >>"$DEV_DIR/pids"

# --cert-dir without --tls-cert-file: kube-apiserver makes itself a self-signed serving certificate (a
# throwaway CA plus a leaf for the advertise and bind addresses) and writes it to pki/apiserver.crt; the
# kubeconfigs trust that file. Advertising 127.0.0.1 needs --endpoint-reconciler-type=none (the default
# reconciler refuses a loopback address for the `kubernetes` Service's endpoints, which nothing here uses).
# ServiceAccount admission stays on (the default), as in a real cluster; it only matters for Pods, which
# nothing creates here.
setsid "$K8S_BIN/kube-apiserver" \
	--etcd-servers="http://127.0.0.1:$ETCD_PORT" \
	--cert-dir="$DEV_DIR/pki" \
	--bind-address=127.0.0.1 \
	--advertise-address=127.0.0.1 \
	--endpoint-reconciler-type=none \
	--secure-port="$APISERVER_PORT" \
	--service-account-key-file="$DEV_DIR/sa.pub" \
	--service-account-signing-key-file="$DEV_DIR/sa.key" \
	--service-account-issuer=https://kubernetes.default.svc \
	--token-auth-file="$DEV_DIR/tokens.csv" \
	--authorization-mode=RBAC \
	--service-cluster-ip-range=10.0.0.0/24 \
	--allow-privileged \
	>"$DEV_DIR/kube-apiserver.log" 2>&1 </dev/null {OUT}>&- {ERR}>&- &
APISERVER_PID=$!
T_APISERVER=$(now_ms)
echo "kube-apiserver $APISERVER_PID" >>"$DEV_DIR/pids"

# write_kubeconfig FILE USER TOKEN. The CA is embedded, so the file still works if copied elsewhere.
write_kubeconfig() {
	cat >"$1.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: gennaker-dev
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $(base64 -w0 <"$DEV_DIR/pki/apiserver.crt")
users:
- name: $2
  user:
    token: $3
contexts:
- name: gennaker-dev
  context:
    cluster: gennaker-dev
    user: $2
    namespace: default
current-context: gennaker-dev
EOF
	mv -f "$1.tmp" "$1"
}
kc() { "$K8S_BIN/kubectl" --kubeconfig="$DEV_DIR/kubeconfig" "$@"; }

# Wait for /readyz (etcd reachable, bootstrap done: default namespaces, RBAC roles, priority levels).
# The serving certificate appears just before the port opens; the kubeconfigs are (re)written from it on
# every try until one works, so a half-written certificate file cannot stick.
deadline=$(($(now_ms) + DEV_READY_TIMEOUT * 1000))
while :; do
	running "$ETCD_PID" $$ || fail_with_log etcd "etcd exited (port $ETCD_PORT or $ETCD_PEER_PORT taken?)"
	running "$APISERVER_PID" $$ || fail_with_log kube-apiserver "kube-apiserver exited"
	if [[ -s $DEV_DIR/pki/apiserver.crt ]]; then
		write_kubeconfig "$DEV_DIR/kubeconfig" admin "$ADMIN_TOKEN"
		kc get --raw=/readyz --request-timeout=2s >/dev/null 2>&1 && break
	fi
	(($(now_ms) < deadline)) || fail_with_log kube-apiserver "kube-apiserver not ready after ${DEV_READY_TIMEOUT}s"
	sleep 0.25
done
write_kubeconfig "$DEV_DIR/manager.kubeconfig" "$SA" "$MANAGER_TOKEN"
log "kube-apiserver ready at https://127.0.0.1:$APISERVER_PORT, $(since "$T_APISERVER") after its start ($(since "$T0") in all)"

# ---------------------------------------------------------------------------------------------------------
# 5. CRDs and RBAC, as `make deploy` would install them minus the Deployment. The RBAC goes through a small
# kustomization that gives config/rbac the namespace and namePrefix of config/default. kustomize rejects an
# absolute path to another kustomization ("new root cannot be absolute") but follows a relative one out of
# its own root, so the path is made relative to DEV_DIR/rbac, wherever DEV_DIR is.

log "installing the CRDs and the RBAC"
kc apply --server-side -k config/crd
kc create namespace "$NS"
cat >"$DEV_DIR/rbac/kustomization.yaml" <<EOF
# Made by hack/dev.sh: config/rbac named as config/default names it.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: $NS
namePrefix: $PREFIX
resources:
- $(realpath --relative-to="$DEV_DIR/rbac" "$REPO/config/rbac")
- $(realpath --relative-to="$DEV_DIR/rbac" "$REPO/config/selfsigned")
EOF
kc apply --server-side -k "$DEV_DIR/rbac"
kc wait --for=condition=Established crd --all --timeout="${DEV_READY_TIMEOUT}s"

cat >"$DEV_DIR/env" <<EOF
# source this from another shell: kubectl v${K8S_BIN##*/v} and kubectl-gennaker on PATH, the dev cluster as admin
export KUBECONFIG=$DEV_DIR/kubeconfig
export PATH=${KUBECTL_GENNAKER%/*}:$K8S_BIN:\$PATH
EOF

# ---------------------------------------------------------------------------------------------------------
# 6. The manager. Its output goes to manager.log and is followed on the terminal with tail --pid (which ends
# when the manager does): a pipe to tee would kill the manager with SIGPIPE if the terminal went away.

# The demo's webhook receiver (test/receiver), a stand-in for a chat service.
[[ -x $RECEIVER ]] || die "no webhook receiver at $RECEIVER: run make dev, or go build -o bin/receiver ./test/receiver"
setsid "$RECEIVER" --addr="127.0.0.1:$WEBHOOK_PORT" >"$DEV_DIR/receiver.log" 2>&1 </dev/null {OUT}>&- {ERR}>&- &
RECEIVER_PID=$!
echo "receiver $RECEIVER_PID" >>"$DEV_DIR/pids"

# The demo's container registry (test/registry, in memory), where a CI job would push builds; it holds
# demo/app:1.0.0, the release running today, before the trigger new-build first looks.
[[ -x $REGISTRY ]] || die "no container registry at $REGISTRY: run make dev, or go build -o bin/registry ./test/registry"
setsid "$REGISTRY" serve -addr="127.0.0.1:$REGISTRY_PORT" -seed=demo/app:1.0.0 \
	>"$DEV_DIR/registry.log" 2>&1 </dev/null {OUT}>&- {ERR}>&- &
REGISTRY_PID=$!
echo "registry $REGISTRY_PID" >>"$DEV_DIR/pids"

# The AWS simulator (test/cloudsim/aws, a test double of the AWS API), with the sample account's key and
# target group; instances take a couple of seconds to come up and pass health checks, as if real.
[[ -x $AWSSIM ]] || die "no AWS simulator at $AWSSIM: run make dev, or go build -o bin/awssim ./test/cloudsim/cmd/awssim"
setsid "$AWSSIM" -addr="127.0.0.1:$AWS_PORT" \
	-key=AKIDGENNAKERDEV00001:gennaker-dev-simulator-only \
	-target-group=arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop-web/0123456789abcdef \
	>"$DEV_DIR/awssim.log" 2>&1 </dev/null {OUT}>&- {ERR}>&- &
AWSSIM_PID=$!
echo "awssim $AWSSIM_PID" >>"$DEV_DIR/pids"

# The GCP simulator (test/cloudsim/gcp) with the backend service of the samples. It writes a service-account
# key whose token_uri is its own; the sample account gcp-sim reads it from the Secret gcp-sim-credentials.
[[ -x $GCPSIM ]] || die "no GCP simulator at $GCPSIM: run make dev, or go build -o bin/gcpsim ./test/cloudsim/cmd/gcpsim"
setsid "$GCPSIM" -addr="127.0.0.1:$GCP_PORT" -backend-service=shop-web -key-out="$DEV_DIR/gcp-sim-key.json" \
	>"$DEV_DIR/gcpsim.log" 2>&1 </dev/null {OUT}>&- {ERR}>&- &
GCPSIM_PID=$!
echo "gcpsim $GCPSIM_PID" >>"$DEV_DIR/pids"

# The Azure simulator (test/cloudsim/azure): Resource Manager and the Entra token endpoint over TLS, with the
# sample account's client and backend pool. The manager trusts its certificate beside the system's.
[[ -x $AZURESIM ]] || die "no Azure simulator at $AZURESIM: run make dev, or go build -o bin/azuresim ./test/cloudsim/cmd/azuresim"
mkdir -p "$DEV_DIR/azuresim-ca"
setsid "$AZURESIM" -addr="127.0.0.1:$AZURE_PORT" -ca-file="$DEV_DIR/azuresim-ca/ca.pem" \
	-client=00000000-0000-4000-8000-0000000000c1:gennaker-dev-simulator-only \
	-backend-pool=/subscriptions/00000000-0000-0000-0000-00000000a2e0/resourceGroups/gennaker/providers/Microsoft.Network/loadBalancers/shop-web/backendAddressPools/web \
	>"$DEV_DIR/azuresim.log" 2>&1 </dev/null {OUT}>&- {ERR}>&- &
AZURESIM_PID=$!
echo "azuresim $AZURESIM_PID" >>"$DEV_DIR/pids"

# Both write their files before they listen; the manager needs the CA, and the samples the key's Secret.
deadline=$(($(now_ms) + DEV_READY_TIMEOUT * 1000))
until [[ -s $DEV_DIR/gcp-sim-key.json && -s $DEV_DIR/azuresim-ca/ca.pem ]]; do
	running "$GCPSIM_PID" $$ || fail_with_log gcpsim "the GCP simulator exited (port $GCP_PORT taken?)"
	running "$AZURESIM_PID" $$ || fail_with_log azuresim "the Azure simulator exited (port $AZURE_PORT taken?)"
	(($(now_ms) < deadline)) || die "the cloud simulators wrote no key or certificate within ${DEV_READY_TIMEOUT}s"
	sleep 0.1
done
kc -n default create secret generic gcp-sim-credentials --from-file=key.json="$DEV_DIR/gcp-sim-key.json" >/dev/null

log "starting the manager as $SA_USER"
# shellcheck disable=SC2086 # DEV_MANAGER_ARGS is a list of flags
SSL_CERT_DIR=${SSL_CERT_DIR:-/etc/ssl/certs}:$DEV_DIR/azuresim-ca setsid "$MANAGER" \
	--kubeconfig="$DEV_DIR/manager.kubeconfig" \
	--leader-elect \
	--leader-election-namespace="$NS" \
	--metrics-bind-address="127.0.0.1:$METRICS_PORT" \
	--metrics-secure=false \
	--health-probe-bind-address="127.0.0.1:$HEALTH_PORT" \
	--webhook-self-signed \
	--webhook-port="$ADMISSION_PORT" \
	--webhook-cert-dir="$DEV_DIR/webhook-certs" \
	--azure-authority-host-for-tests="https://127.0.0.1:$AZURE_PORT" \
	$DEV_MANAGER_ARGS \
	>"$DEV_DIR/manager.log" 2>&1 </dev/null {OUT}>&- {ERR}>&- &
MANAGER_PID=$!
echo "manager $MANAGER_PID" >>"$DEV_DIR/pids"
tail -n +1 -s 0.2 -f --pid="$MANAGER_PID" "$DEV_DIR/manager.log" &
TAIL_PID=$!

# http_ok PORT PATH: an HTTP GET on 127.0.0.1 answers 200 (bash's /dev/tcp, so curl is not required).
http_ok() {
	local status
	status=$(
		exec 2>/dev/null # "connection refused" is the expected answer until the manager listens
		exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3 || exit 1
		IFS= read -r -t 2 line <&3 || exit 1
		printf '%s' "$line"
	) || return 1
	[[ $status == HTTP/1.?" 200"* ]]
}

# The manager's /readyz answers once its caches and probes are up.
manager_ready=0
deadline=$(($(now_ms) + DEV_READY_TIMEOUT * 1000))
while (($(now_ms) < deadline)); do
	if ! running "$MANAGER_PID" $$; then
		rc=0
		wait "$MANAGER_PID" || rc=$?
		MANAGER_PID=''
		die "the manager exited ($rc) before it was ready; see $DEV_DIR/manager.log"
	fi
	if http_ok "$HEALTH_PORT" /readyz; then
		manager_ready=1
		break
	fi
	sleep 0.25
done
if ((manager_ready)); then
	log "manager ready after $(since "$T0")"
else
	[[ $DEV_EXIT_AFTER_READY != 1 ]] || die "the manager is not ready after ${DEV_READY_TIMEOUT}s"
	warn "the manager is not ready after ${DEV_READY_TIMEOUT}s; still waiting on it"
fi

# The quickstart: the three simulated clouds' accounts, what runs in each today (v000), and the Pipeline demo.
# Applied once the manager is ready, so that its admission webhooks see them; nothing here starts a run.
kc apply -f config/samples/quickstart/ >&2 || die "cannot apply config/samples/quickstart/"

rel=${DEV_DIR#"$REPO"/}
plugin_note=''
[[ -x $KUBECTL_GENNAKER ]] || plugin_note="
  (no kubectl-gennaker at ${KUBECTL_GENNAKER#"$REPO"/}: run make build, or use the plain kubectl lines)"
cat >&2 <<EOF

  Gennaker dev cluster: kube-apiserver https://127.0.0.1:$APISERVER_PORT, manager pid $MANAGER_PID, ready after $(since "$T0")
  Applied config/samples/quickstart/: CloudAccounts aws-sim, gcp-sim and azure-sim (the simulators below),
  demo-aws-v000, demo-gcp-v000 and demo-azure-v000 taking traffic, and the Pipelines demo and demo-bake.

  In another shell:
    source $rel/env               # KUBECONFIG, and kubectl v${K8S_BIN##*/v} and kubectl-gennaker on PATH
    kubectl gennaker start demo --watch            # deploys v001 red/black to the three clouds, then waits
    kubectl gennaker approve <run> go-no-go        # <run>: the name start printed; or reject, to roll back
    kubectl gennaker servergroups                  # v001 takes the traffic, v000 is scaled down$plugin_note
  A new build starts the release by itself: push it to the dev registry, demo-bake makes an AMI of it, and
  the AMI starts demo (the triggers new-build and new-ami look every 10s):
    ${REGISTRY#"$REPO"/} push 127.0.0.1:$REGISTRY_PORT/demo/app:1.1.0      # or docker push; then: kubectl gennaker list
  or register an AMI directly, as a bake job would:
    curl -X POST http://127.0.0.1:$AWS_PORT/_sim/images -d '{"region":"us-east-1","name":"demo-1.1.0"}'
  The same with plain kubectl:
    kubectl create -f config/samples/quickstart/run/          # prints execution.../demo-xxxxx
    kubectl get executions -w                                  # until demo-xxxxx is AwaitingJudgment at go-no-go
    kubectl patch execution demo-xxxxx --type merge -p '{"spec":{"judgments":{"go-no-go":{"decision":"Continue"}}}}'
    kubectl get servergroups

  More samples: kubectl apply -f config/samples/ (a release gate calling a webhook receiver on
  127.0.0.1:$WEBHOOK_PORT, and a red/black on AWS); kubectl create -f config/samples/three-cloud/ (AWS + GCP + Azure)
  Container registry: http://127.0.0.1:$REGISTRY_PORT/v2/ (demo/app, in memory)
  Simulators: AWS http://127.0.0.1:$AWS_PORT, GCP http://127.0.0.1:$GCP_PORT, Azure https://127.0.0.1:$AZURE_PORT
    (calls by operation at /_sim/calls; Azure's CA: $rel/azuresim-ca/ca.pem)
  Manager: http://127.0.0.1:$HEALTH_PORT/readyz  http://127.0.0.1:$METRICS_PORT/metrics, admission webhooks https://127.0.0.1:$ADMISSION_PORT
    It runs as $SA_USER, with only the RBAC of config/rbac.
  Logs:    $rel/manager.log  $rel/kube-apiserver.log  $rel/etcd.log  $rel/*sim.log  $rel/registry.log
  Ctrl-C stops the manager, the simulators, kube-apiserver and etcd.

EOF

if [[ $DEV_EXIT_AFTER_READY != 1 ]]; then
	rc=0
	wait "$MANAGER_PID" || rc=$? # returns early on Ctrl-C: the trap then stops everything
	MANAGER_PID=''
	warn "the manager exited ($rc)"
	exit "$rc"
fi

# ---------------------------------------------------------------------------------------------------------
# 7. Smoke test (DEV_EXIT_AFTER_READY=1): leader election works, the quickstart's demo runs to the end on
# the three clouds as the banner above tells a user to run it, the other samples are accepted and run
# without RBAC errors. Exiting runs the cleanup trap.

holder=''
deadline=$(($(now_ms) + DEV_READY_TIMEOUT * 1000))
until [[ -n $holder ]]; do
	(($(now_ms) < deadline)) || die "the manager did not become leader within ${DEV_READY_TIMEOUT}s"
	running "$MANAGER_PID" $$ || die "the manager exited; see $DEV_DIR/manager.log"
	sleep 0.25
	holder=$(kc -n "$NS" get lease "$LEASE" -o 'jsonpath={.spec.holderIdentity}' 2>/dev/null || true)
done
log "manager is leader ($holder)"

# http_post PORT PATH JSON: POST to 127.0.0.1 (bash's /dev/tcp, as http_ok); prints the body, fails unless 2xx.
http_post() {
	local reply
	reply=$(
		exec 2>/dev/null
		exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		printf 'POST %s HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
			"$2" "${#3}" "$3" >&3 || exit 1
		timeout 5 cat <&3
	) || return 1
	printf '%s' "${reply#*$'\r\n\r\n'}"
	[[ $reply == HTTP/1.?" 2"* ]]
}

# The quickstart: demo deploys v001 red/black beside v000 in the three clouds, waits at go-no-go, is
# approved, disables and scales down the v000s. With the plugin when it is built, else as the banner's
# plain kubectl lines say.
kc wait --timeout="${DEV_READY_TIMEOUT}s" --for=condition=Ready \
	cloudaccount/aws-sim cloudaccount/gcp-sim cloudaccount/azure-sim >&2 ||
	die "smoke test: a quickstart CloudAccount is not Ready: $(kc get cloudaccounts -o yaml)"
kc wait --timeout="${DEV_READY_TIMEOUT}s" -n default --for=condition=Ready pipeline/demo >&2 ||
	die "smoke test: the Pipeline demo is not Ready: $(kc -n default get pipeline demo -o yaml)"
kc wait --timeout=60s -n default --for=jsonpath='{.status.instances.healthy}'=2 \
	servergroup/demo-aws-v000 servergroup/demo-gcp-v000 servergroup/demo-azure-v000 >&2 ||
	die "smoke test: the v000 server groups are not healthy: $(kc -n default get servergroups)"
T_DEMO=$(now_ms)
if [[ -x $KUBECTL_GENNAKER ]]; then
	log "kubectl gennaker start demo"
	started=$("$KUBECTL_GENNAKER" --kubeconfig="$DEV_DIR/kubeconfig" -n default start demo) ||
		die "smoke test: kubectl gennaker start demo failed: $started"
else
	log "kubectl create -f config/samples/quickstart/run/ (no $KUBECTL_GENNAKER)"
	started=$(kc create -f config/samples/quickstart/run/ -o name) || die "smoke test: cannot start demo: $started"
fi
printf '%s\n' "$started"
[[ $started =~ (demo-[a-z0-9]+) ]] || die "smoke test: no run name in: $started"
demo=${BASH_REMATCH[1]}
kc wait --timeout=120s -n default --for=jsonpath='{.status.awaitingJudgment}'=go-no-go "execution/$demo" >&2 ||
	die "smoke test: $demo does not reach go-no-go: $(kc -n default get execution "$demo" -o yaml)"
log "demo waits at go-no-go after $(since "$T_DEMO"): kubectl get servergroups"
kc -n default get servergroups -l 'delivery.gennaker.io/cluster in (demo-aws,demo-gcp,demo-azure)'
if [[ -x $KUBECTL_GENNAKER ]]; then
	log "kubectl gennaker approve $demo go-no-go"
	"$KUBECTL_GENNAKER" --kubeconfig="$DEV_DIR/kubeconfig" -n default approve "$demo" go-no-go ||
		die "smoke test: kubectl gennaker approve $demo go-no-go failed"
else
	log "kubectl patch execution $demo (approve go-no-go)"
	kc -n default patch execution "$demo" --type merge -p '{"spec":{"judgments":{"go-no-go":{"decision":"Continue"}}}}'
fi
kc wait --timeout=120s -n default --for=condition=Succeeded "execution/$demo" >&2 ||
	die "smoke test: $demo did not succeed: $(kc -n default get execution "$demo" -o yaml)"
for c in aws gcp azure; do
	kc wait --timeout=60s -n default --for=jsonpath='{.status.instances.running}'=0 "servergroup/demo-$c-v000" >&2 ||
		die "smoke test: demo-$c-v000 was not scaled down: $(kc -n default get servergroup "demo-$c-v000" -o yaml)"
	[[ $(kc -n default get servergroup "demo-$c-v001" -o 'jsonpath={.status.traffic}') == Enabled ]] ||
		die "smoke test: demo-$c-v001 does not take traffic"
done
log "demo succeeded on the three clouds after $(since "$T_DEMO"): kubectl get servergroups"
kc -n default get servergroups -l 'delivery.gennaker.io/cluster in (demo-aws,demo-gcp,demo-azure)'
kc -n default get execution "$demo"

# A new build, as a CI job pushes it: once both triggers have looked (new-build recorded demo/app:1.0.0, and
# new-ami that aws-sim has no demo-* image yet), a push of demo/app:1.1.0 starts demo-bake, whose bake stage
# registers the AMI demo-1.1.0, and that AMI starts demo by itself, which deploys it to AWS.
kc wait --timeout=90s -n default --for=jsonpath='{.status.triggers[0].image.lastCheckTime}' pipeline/demo-bake >&2 ||
	die "smoke test: the trigger new-build never looked: $(kc -n default get pipeline demo-bake -o yaml)"
kc wait --timeout=90s -n default --for=jsonpath='{.status.triggers[0].machineImage.lastCheckTime}' pipeline/demo >&2 ||
	die "smoke test: the trigger new-ami never looked: $(kc -n default get pipeline demo -o yaml)"
T_PUSH=$(now_ms)
digest=$("$REGISTRY" push "127.0.0.1:$REGISTRY_PORT/demo/app:1.1.0") ||
	die "smoke test: cannot push demo/app:1.1.0 to the dev registry: $digest"
log "pushed demo/app:1.1.0 ($digest); waiting for new-build to start demo-bake"
# first_run PIPELINE TRIGGER-TYPE: the name of the first run of PIPELINE that TRIGGER-TYPE started, waiting
# up to 120s for it.
first_run() {
	local run='' deadline=$(($(now_ms) + 120 * 1000))
	until [[ -n $run ]]; do
		(($(now_ms) < deadline)) || die "smoke test: no $2 run of $1 started: $(kc -n default get pipeline "$1" -o yaml)"
		sleep 0.5
		run=$(kc -n default get executions -l "delivery.gennaker.io/pipeline=$1" -o \
			"jsonpath={range .items[?(@.status.trigger.type==\"$2\")]}{.metadata.name}{\"\\n\"}{end}" | head -n 1)
	done
	printf '%s' "$run"
}
bake=$(first_run demo-bake image)
log "new-build started $bake $(since "$T_PUSH") after the push"
[[ $(kc -n default get execution "$bake" -o 'jsonpath={.spec.artifacts[0].digest}') == "$digest" ]] ||
	die "smoke test: $bake does not pin $digest: $(kc -n default get execution "$bake" -o yaml)"
kc wait --timeout=120s -n default --for=condition=Succeeded "execution/$bake" >&2 ||
	die "smoke test: $bake did not succeed: $(kc -n default get execution "$bake" -o yaml)"
ami=$(kc -n default get execution "$bake" -o 'jsonpath={.status.stages[?(@.name=="bake")].outputs.body.id}')
[[ $ami =~ ^ami-[0-9a-f]+$ ]] || die "smoke test: $bake baked no AMI: $(kc -n default get execution "$bake" -o yaml)"
log "$bake baked $ami (demo-1.1.0); waiting for new-ami to start demo"
triggered=$(first_run demo machineImage)
log "new-ami started $triggered $(since "$T_PUSH") after the push"
[[ $(kc -n default get execution "$triggered" -o 'jsonpath={.spec.parameters.awsImage}') == "$ami" ]] ||
	die "smoke test: $triggered does not deploy $ami: $(kc -n default get execution "$triggered" -o yaml)"
kc wait --timeout=120s -n default --for=jsonpath='{.status.awaitingJudgment}'=go-no-go "execution/$triggered" >&2 ||
	die "smoke test: $triggered does not reach go-no-go: $(kc -n default get execution "$triggered" -o yaml)"
kc -n default patch execution "$triggered" --type merge -p '{"spec":{"judgments":{"go-no-go":{"decision":"Continue"}}}}'
kc wait --timeout=120s -n default --for=condition=Succeeded "execution/$triggered" >&2 ||
	die "smoke test: $triggered did not succeed: $(kc -n default get execution "$triggered" -o yaml)"
[[ $(kc -n default get servergroup demo-aws-v002 -o 'jsonpath={.spec.aws.imageID}') == "$ami" ]] ||
	die "smoke test: demo-aws-v002 does not run $ami: $(kc -n default get servergroup demo-aws-v002 -o yaml)"
log "$triggered deployed $ami as demo-aws-v002 and succeeded, $(since "$T_PUSH") after the push"

kc apply -f config/samples/
# Every sample reconciled: observedGeneration caught up, and the valid sample pipeline Ready.
kc wait --timeout="${DEV_READY_TIMEOUT}s" -n default --for=jsonpath='{.status.observedGeneration}'=1 \
	servergroup/shop-main-v000 execution/release-gate-demo >&2 ||
	die "smoke test: the manager did not reconcile the sample ServerGroup and Execution"
# The demo, as the README tells it: the run waits for a judgment, a person approves, the run ends.
kc wait --timeout="${DEV_READY_TIMEOUT}s" -n default --for=jsonpath='{.status.awaitingJudgment}'=go-no-go \
	execution/release-gate-demo >&2 || die "smoke test: the demo run does not wait for its judgment"
log "kubectl get executions"
kc -n default get executions
kc -n default patch execution release-gate-demo --type merge \
	-p '{"spec":{"judgments":{"go-no-go":{"decision":"Continue","input":"ship"}}}}'
kc wait --timeout="${DEV_READY_TIMEOUT}s" -n default --for=condition=Succeeded execution/release-gate-demo >&2 ||
	die "smoke test: the demo run did not succeed: $(kc -n default get execution release-gate-demo -o yaml)"
# The admission webhook stamped who approved, and kubectl describe shows it.
judged=$(kc -n default describe execution release-gate-demo)
grep -q 'Continue by admin at' <<<"$judged" ||
	die "smoke test: kubectl describe does not say who judged the demo run: $judged"
log "kubectl get executions"
kc -n default get executions
grep -q '"path":"/hooks/releases"' "$DEV_DIR/receiver.log" ||
	die "smoke test: the webhook receiver got no call; see $DEV_DIR/receiver.log"
kc wait --timeout="${DEV_READY_TIMEOUT}s" -n default --for=condition=Ready pipeline/shop-release >&2 ||
	die "smoke test: the sample Pipeline is not Ready"
# The red/black demo: the account is checked against the simulator, v001 comes up beside v000 and takes its
# traffic, the run waits at go-no-go, a person approves, v000 is scaled down.
kc wait --timeout="${DEV_READY_TIMEOUT}s" --for=condition=Ready cloudaccount/aws-sim >&2 ||
	die "smoke test: the sample CloudAccount aws-sim is not Ready: $(kc get cloudaccount aws-sim -o yaml)"
kc wait --timeout=120s -n default --for=jsonpath='{.status.awaitingJudgment}'=go-no-go \
	execution/shop-release-demo >&2 ||
	die "smoke test: the red/black demo does not reach its judgment: $(kc -n default get execution shop-release-demo -o yaml)"
log "kubectl get servergroups"
kc -n default get servergroups
kc -n default patch execution shop-release-demo --type merge \
	-p '{"spec":{"judgments":{"go-no-go":{"decision":"Continue","input":"ship"}}}}'
kc wait --timeout=120s -n default --for=condition=Succeeded execution/shop-release-demo >&2 ||
	die "smoke test: the red/black demo did not succeed: $(kc -n default get execution shop-release-demo -o yaml)"
kc wait --timeout="${DEV_READY_TIMEOUT}s" -n default --for=jsonpath='{.status.instances.running}'=0 \
	servergroup/shop-main-v000 >&2 || die "smoke test: shop-main-v000 was not scaled down"
log "kubectl get servergroups"
kc -n default get servergroups
[[ $(kc -n default get servergroup shop-main-v001 -o 'jsonpath={.status.traffic}') == Enabled ]] ||
	die "smoke test: shop-main-v001 does not take traffic"
# (The multi-cloud and three-cloud samples are not run here: demo covers the three clouds, and
# controllers/multicloud_test.go and threecloud_test.go run them.)
log "kubectl get executions"
kc -n default get executions
running "$MANAGER_PID" $$ || die "the manager exited; see $DEV_DIR/manager.log"
http_ok "$METRICS_PORT" /metrics || die "smoke test: no metrics at http://127.0.0.1:$METRICS_PORT/metrics"
log "kubectl get gennaker -A"
listing=$(kc get gennaker -A 2>&1)
printf '%s\n' "$listing"
[[ $listing != *"No resources found"* && -n $listing ]] || die "smoke test: no Gennaker objects listed"
if grep -i forbidden "$DEV_DIR/manager.log" >&2; then
	die "smoke test: the manager was refused API access (above): config/rbac lacks permissions"
fi
log "smoke test passed after $(since "$T0")"
exit 0
