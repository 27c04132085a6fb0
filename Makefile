# Gennaker's Makefile: the kubebuilder targets, plus `dev` (the operator on a local control plane) and
# `k8s-bin` (that control plane, built from the Go module proxy because binaries cannot be downloaded here).

K8S_VERSION ?= v1.37.2
CONTROLLER_TOOLS_VERSION ?= v0.23.0

LOCALBIN ?= $(CURDIR)/bin
K8S_BIN ?= $(LOCALBIN)/k8s/$(K8S_VERSION)
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
KUBECTL ?= $(K8S_BIN)/kubectl
IMG ?= gennaker/manager:dev
# The release that make plugin-dist builds and names in the Krew manifest plugins/gennaker.yaml.
VERSION ?= v0.1.0
# Go test flags; `make test TEST_ARGS=-run=TestCRD` narrows the run.
TEST_ARGS ?=

.DEFAULT_GOAL := build
SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

##@ General

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  %-14s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate CRDs, RBAC and webhook configurations from the API types and controller markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd webhook paths="./api/...;./controllers/..." output:crd:artifacts:config=config/crd/bases output:webhook:artifacts:config=config/webhook

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate the DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: fmt
fmt: ## go fmt.
	go fmt ./...

.PHONY: vet
vet: ## go vet.
	go vet ./...

.PHONY: k8s-bin
k8s-bin: ## Build kube-apiserver, etcd and kubectl $(K8S_VERSION) into bin/k8s (once; cached after).
	K8S_VERSION=$(K8S_VERSION) K8S_BIN_DIR=$(K8S_BIN) hack/build-k8s.sh

.PHONY: verify
verify: $(CONTROLLER_GEN) ## Fail (without rewriting anything) when gofmt or the generated files are stale.
	CONTROLLER_GEN=$(CONTROLLER_GEN) hack/verify.sh

.PHONY: test
test: verify vet k8s-bin ## Run every test, with the race detector, against a real kube-apiserver and etcd (envtest).
	KUBEBUILDER_ASSETS=$(K8S_BIN) go test -race ./... -count=1 -timeout 40m $(TEST_ARGS)

# Engine benchmark sizes; `make bench BENCH_N=100` runs only 100 Executions per case.
BENCH_N ?= 100,1000
BENCH_JUDGMENTS ?= 100

.PHONY: bench
bench: manifests k8s-bin ## Benchmark the engine against a real kube-apiserver and etcd (not part of `make test`).
	KUBEBUILDER_ASSETS=$(K8S_BIN) BENCH_N=$(BENCH_N) BENCH_JUDGMENTS=$(BENCH_JUDGMENTS) go test ./test/bench -run '^$$' -bench . -benchtime 1x -timeout 40m -count=1

.PHONY: bench-scale
bench-scale: manifests k8s-bin ## Memory and latency at scale (not part of `make test`): SCALE_DONE finished runs (300), SCALE_RUNNING (20), SCALE_GROUPS (50); the issue's size is 10000/500/10000.
	KUBEBUILDER_ASSETS=$(K8S_BIN) go test ./test/bench -run '^$$' -bench Scale -benchtime 1x -count=1 -timeout 3h

.PHONY: soak
soak: k8s-bin ## Kill soak, not part of `make test`: SOAK_KILLS (100), SOAK_TIMEOUT (30m), SOAK_SEED (1).
	KUBEBUILDER_ASSETS=$(K8S_BIN) go test -tags soak -count=1 -timeout 60m -v -run TestKillSoak ./test/soak

##@ Build

.PHONY: build
build: manifests generate fmt vet ## Build the manager binary.
	go build -o $(LOCALBIN)/manager ./cmd/manager
	go build -o $(LOCALBIN)/kubectl-gennaker ./cmd/kubectl-gennaker
	go build -o $(LOCALBIN)/receiver ./test/receiver
	go build -o $(LOCALBIN)/registry ./test/registry
	go build -o $(LOCALBIN)/awssim ./test/cloudsim/cmd/awssim
	go build -o $(LOCALBIN)/gcpsim ./test/cloudsim/cmd/gcpsim
	go build -o $(LOCALBIN)/azuresim ./test/cloudsim/cmd/azuresim

.PHONY: plugin-dist
plugin-dist: ## Build the kubectl gennaker archives for Krew (linux/darwin, amd64/arm64) into bin/plugin-dist, write their sha256 into plugins/gennaker.yaml, and install each with Krew to check it.
	VERSION=$(VERSION) OUT=$(LOCALBIN)/plugin-dist hack/plugin-dist.sh

.PHONY: run
run: manifests generate fmt vet ## Run the manager against the cluster of the current kubeconfig.
	go run ./cmd/manager

.PHONY: dev
dev: manifests k8s-bin build ## The three-cloud quickstart: etcd, kube-apiserver, the AWS, GCP and Azure simulators and the manager, with config/samples/quickstart applied; Ctrl-C stops all.
	K8S_BIN=$(K8S_BIN) MANAGER=$(LOCALBIN)/manager RECEIVER=$(LOCALBIN)/receiver REGISTRY=$(LOCALBIN)/registry AWSSIM=$(LOCALBIN)/awssim GCPSIM=$(LOCALBIN)/gcpsim AZURESIM=$(LOCALBIN)/azuresim KUBECTL_GENNAKER=$(LOCALBIN)/kubectl-gennaker hack/dev.sh

.PHONY: docker-build
docker-build: ## Build the manager image (needs a Docker engine).
	docker build -t $(IMG) .

# What builds the image from the Dockerfile: docker, podman, or `buildah` with CONTAINER_BUILD=bud.
CONTAINER_TOOL ?= docker
CONTAINER_BUILD ?= build

.PHONY: image
image: ## Build the manager image $(IMG) (distroless, non-root) from the Dockerfile with $(CONTAINER_TOOL); the project's own machines have no engine.
	$(CONTAINER_TOOL) $(CONTAINER_BUILD) -t $(IMG) .

.PHONY: chart
chart: manifests $(KUBECTL) ## Generate the Helm chart dist/chart from config/ (hack/chart); dist/chart is never edited by hand.
	go run ./hack/chart -kubectl $(KUBECTL) -config config -out dist/chart

##@ Deployment

.PHONY: install
install: manifests $(KUBECTL) ## Install the CRDs into the cluster of the current kubeconfig.
	$(KUBECTL) apply --server-side -k config/crd

.PHONY: uninstall
uninstall: manifests $(KUBECTL) ## Remove the CRDs (and with them every Gennaker object).
	$(KUBECTL) delete --ignore-not-found -k config/crd

.PHONY: deploy
deploy: manifests $(KUBECTL) ## Deploy the operator (image $(IMG)) to the cluster of the current kubeconfig.
	cd config/manager && $(KUBECTL) kustomize . >/dev/null
	$(KUBECTL) kustomize config/default | sed 's|image: controller:latest|image: $(IMG)|' | $(KUBECTL) apply --server-side -f -

.PHONY: undeploy
undeploy: $(KUBECTL) ## Remove the operator from the cluster of the current kubeconfig.
	$(KUBECTL) delete --ignore-not-found -k config/default

$(KUBECTL):
	$(MAKE) k8s-bin

$(CONTROLLER_GEN):
	GOBIN=$(LOCALBIN)/.controller-gen go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
	mv $(LOCALBIN)/.controller-gen/controller-gen $(CONTROLLER_GEN)
	ln -sf $(notdir $(CONTROLLER_GEN)) $(LOCALBIN)/controller-gen
