#!/usr/bin/env bash
# Builds the kubectl gennaker archives Krew installs (linux and darwin, amd64 and arm64) into OUT, writes
# their version and sha256 into plugins/gennaker.yaml, and checks the result the way krew-index's CI does:
# Krew's validator on the manifest, then a real Krew install of each archive into a scratch KREW_ROOT (as
# its own os/arch, from the local archive, so no network and no release are needed), and the installed
# linux/amd64 binary run once.
#
# The builds are reproducible (-trimpath, no VCS stamp, fixed tar metadata), so the same commit and Go
# toolchain give the same sha256; the committed manifest names the archives of the release it was run for.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=${VERSION:?VERSION=vX.Y.Z}
OUT=${OUT:-bin/plugin-dist}
MANIFEST=plugins/gennaker.yaml
KREW=sigs.k8s.io/krew/cmd/krew@v0.4.3
VALIDATE=sigs.k8s.io/krew/cmd/validate-krew-manifest@v0.4.3
PLATFORMS="linux/amd64 linux/arm64 darwin/amd64 darwin/arm64"

[[ $VERSION =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] || { echo "VERSION must be a semantic version such as v0.1.0, not $VERSION" >&2; exit 1; }

rm -rf "$OUT" && mkdir -p "$OUT"
declare -A sums
for p in $PLATFORMS; do
	os=${p%/*} arch=${p#*/}
	stage=$(mktemp -d)
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath -buildvcs=false \
		-ldflags "-s -w -X github.com/gennaker/gennaker/cmd/kubectl-gennaker/cli.Version=$VERSION" \
		-o "$stage/kubectl-gennaker" ./cmd/kubectl-gennaker
	cp LICENSE "$stage/LICENSE"
	touch -d @0 "$stage/kubectl-gennaker" "$stage/LICENSE"
	archive=$OUT/kubectl-gennaker_${os}_${arch}.tar.gz
	tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf - kubectl-gennaker LICENSE | gzip -n -9 >"$archive"
	rm -rf "$stage"
	sums[${os}_${arch}]=$(sha256sum "$archive" | cut -d' ' -f1)
	echo "$archive ${sums[${os}_${arch}]}"
done

# Each platform's uri names its archive; the sha256 line that follows it gets that archive's sum.
tmp=$(mktemp)
awk -v version="$VERSION" -v sums="$(for k in "${!sums[@]}"; do echo "$k=${sums[$k]}"; done)" '
	BEGIN { n = split(sums, lines, "\n"); for (i = 1; i <= n; i++) { split(lines[i], kv, "="); sum[kv[1]] = kv[2] } }
	/^  version: / { print "  version: " version; next }
	/^    uri: / {
		match($0, /kubectl-gennaker_[a-z0-9]+_[a-z0-9]+\.tar\.gz/)
		file = substr($0, RSTART, RLENGTH); key = substr(file, 18, length(file) - 17 - 7)
		if (!(key in sum)) { print "no archive for " file > "/dev/stderr"; exit 1 }
		print "    uri: https://github.com/gennaker/gennaker/releases/download/" version "/" file; next
	}
	/^    sha256: / { if (key == "") { print "sha256 before uri" > "/dev/stderr"; exit 1 }; print "    sha256: \"" sum[key] "\""; key = ""; next }
	{ print }
' "$MANIFEST" >"$tmp"
mv "$tmp" "$MANIFEST"

go run "$VALIDATE" -manifest "$MANIFEST" -skip-install

krew=$OUT/.krew-bin
GOBIN=$(cd "$OUT" && pwd)/.krew-bin go install "$KREW"
for p in $PLATFORMS; do
	os=${p%/*} arch=${p#*/}
	root=$(mktemp -d)
	KREW_ROOT=$root KREW_OS=$os KREW_ARCH=$arch "$krew/krew" install --manifest "$MANIFEST" \
		--archive "$OUT/kubectl-gennaker_${os}_${arch}.tar.gz" >/dev/null 2>"$root.log" ||
		{ cat "$root.log" >&2; exit 1; }
	bin=$root/bin/kubectl-gennaker
	[[ -x $bin ]] || { echo "krew install for $p left no $bin" >&2; exit 1; }
	ls "$root"/store/gennaker/"$VERSION"/LICENSE >/dev/null
	if [[ $os/$arch == linux/amd64 && $(go env GOOS)/$(go env GOARCH) == linux/amd64 ]]; then
		got=$("$bin" version)
		[[ $got == "kubectl gennaker $VERSION" ]] || { echo "installed plugin says \"$got\", want $VERSION" >&2; exit 1; }
	fi
	rm -rf "$root" "$root.log"
	echo "krew install $p: ok"
done
rm -rf "$krew"
echo "plugins/gennaker.yaml names $VERSION; upload $OUT/*.tar.gz to the release $VERSION"
