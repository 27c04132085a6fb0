#!/usr/bin/env bash
# hack/verify.sh — fail, without touching the tree, when Go files are not gofmt'ed or the generated files
# (CRDs, RBAC, webhook manifests, deepcopy, the Helm chart dist/chart) do not match the API types, markers
# and config/, or the Krew manifest plugins/gennaker.yaml is not valid. `make test` runs it first;
# `make fmt manifests generate chart` fixes what it reports.
#
# The generators run on a copy of the tree (its tracked and new files), and the copy's output is compared
# with the tree's, so a stale tree is reported, never rewritten.
#
# Usage: CONTROLLER_GEN=bin/controller-gen-v0.23.0 hack/verify.sh
set -euo pipefail
cd "$(dirname "$0")/.."
: "${CONTROLLER_GEN:?set CONTROLLER_GEN to the controller-gen binary}"
CONTROLLER_GEN=$(realpath -- "$CONTROLLER_GEN")

status=0

# gofmt -l lists the files whose formatting differs; vendored or generated-by-others paths are not ours.
unformatted=$(git ls-files --cached --others --exclude-standard -- '*.go' | xargs -r gofmt -l)
if [[ -n $unformatted ]]; then
	echo "verify: these files are not gofmt'ed (run 'make fmt'):" >&2
	sed 's/^/  /' <<<"$unformatted" >&2
	status=1
fi

# The Krew manifest is checked by Krew's own validator (make plugin-dist also installs each archive).
if ! out=$(go run sigs.k8s.io/krew/cmd/validate-krew-manifest@v0.4.3 -manifest plugins/gennaker.yaml -skip-install 2>&1); then
	echo "verify: plugins/gennaker.yaml is not a valid Krew manifest:" >&2
	sed 's/^/  /' <<<"$out" >&2
	status=1
fi

copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT
git ls-files --cached --others --exclude-standard -z | xargs -0 cp --parents -t "$copy" 2>/dev/null || true
# Files deleted in the tree but still in the index are not copied (cp fails on them): that is what we want.
make -s -C "$copy" manifests generate CONTROLLER_GEN="$CONTROLLER_GEN" LOCALBIN="$copy/bin" >/dev/null
# The Helm chart is generated from config/ by kubectl's kustomize (built once by make k8s-bin).
KUBECTL=${KUBECTL:-bin/k8s/v1.37.2/kubectl}
[[ -x $KUBECTL ]] || make -s k8s-bin >/dev/null
KUBECTL=$(realpath -- "$KUBECTL")
make -s -C "$copy" chart CONTROLLER_GEN="$CONTROLLER_GEN" LOCALBIN="$copy/bin" KUBECTL="$KUBECTL" >/dev/null

for dir in config api controllers dist; do
	if ! diff -r -q "$dir" "$copy/$dir" >/dev/null 2>&1; then
		stale=$(diff -r -q "$dir" "$copy/$dir" 2>&1 | sed "s|$copy/||" || true)
		echo "verify: generated files under $dir/ are stale (run 'make manifests generate chart' and commit):" >&2
		sed 's/^/  /' <<<"$stale" >&2
		status=1
	fi
done
exit $status
