#!/usr/bin/env bash
# Container image and Kubernetes manifests, tested with podman (issue 6).
# Run by `tools/dev test` after the plain build's tests; by hand, as root:
#
#   test/container/run.sh
#
# 1. installs podman, runc, catatonit, debootstrap, yamllint, file (and node)
#    when missing, and writes /etc/containers/containers.conf (runc,
#    cgroupfs, file events, ulimits this machine allows) when there is none;
# 2. makes the base image debian:bookworm-slim without a registry
#    (debootstrap --variant=minbase, cached in $SIGSTREAM_CACHE);
# 3. builds the Containerfile (--pull=never) and checks the image: size,
#    static binaries and nothing else, numeric non-root user, labels;
# 4. runs it read-only with no capabilities on a free loopback port and
#    checks: non-root process, signals streamed by an independent client
#    (Debian's python3-grpcio), grpc.health.v1 SERVING, the image's own CLI,
#    a clean exit on SIGTERM;
# 5. renders every kustomization (kubectl kustomize), validates the result
#    offline against the Kubernetes 1.27 schemas and sigstream's policy
#    (validate.mjs; npm packages cached in $SIGSTREAM_CACHE/npm), yamllint;
# 6. runs k8s/overlays/podman-test with `podman kube play` and streams from
#    the pod, then `podman kube down`.
# Prints PASS/FAIL/SKIP per check and the time of each step, and ends with
# `N passed, N failed`; exits 1 if anything failed. Removes what it started.
#
# Environment: SIGSTREAM_CACHE (default /var/cache/sigstream).
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
here=$top/test/container
cd "$top"

cache=${SIGSTREAM_CACHE:-/var/cache/sigstream}
image=localhost/sigstream:test
base_image=localhost/debian:bookworm-slim
size_limit=12600000 # bytes: the Go reference binary alone is 12.6 MB
kubernetes_models=4.5.1 # Kubernetes 1.27 schemas; 5.x needs node >= 22
yaml_pkg=2.9.1
python=/usr/bin/python3 # Debian's, with python3-grpcio
version=$(sed -n "s/^ *version : '\([^']*\)'.*/\1/p" meson.build | head -1)

passed=0
failed=0
skipped=0
pass() { passed=$((passed + 1)); printf 'PASS %s\n' "$*"; }
fail() { failed=$((failed + 1)); printf 'FAIL %s\n' "$*"; }
skip() { skipped=$((skipped + 1)); printf 'SKIP %s\n' "$*"; }
say() { printf 'container: %s\n' "$*"; }
# check NAME CMD...: runs CMD (output to a log, shown on failure).
check() {
	local name=$1 log
	shift
	log=$(mktemp)
	if "$@" >"$log" 2>&1; then
		pass "$name"
	else
		fail "$name"
		sed 's/^/    /' "$log" | tail -40
	fi
	rm -f "$log"
}
step_t0=
step() {
	step_end
	step_name=$1
	step_t0=$EPOCHREALTIME
	printf -- '--- %s\n' "$step_name"
}
step_end() {
	[ -n "$step_t0" ] || return 0
	awk -v a="$step_t0" -v b="$EPOCHREALTIME" -v n="$step_name" \
		'BEGIN { printf "--- %s: %.1f s\n", n, b - a }'
	step_t0=
}
finish() {
	step_end
	echo "$passed passed, $failed failed, $skipped skipped"
	[ "$failed" -eq 0 ]
	exit
}

tmp=$(mktemp -d /tmp/sigstream-container.XXXXXX)
ctr=sigstream-test-$$
kube_yaml=
cleanup() {
	if command -v podman >/dev/null; then
		podman rm -f -t 0 "$ctr" >/dev/null 2>&1 || true
		[ -z "$kube_yaml" ] || podman kube down "$kube_yaml" >/dev/null 2>&1 || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	"$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
probe() { "$python" "$here/probe.py" "$@"; }

# Concurrent runs (several developers' `tools/dev test` on one machine) take
# turns at installing and filling the caches.
mkdir -p "$cache"
exec 9>"$cache/.lock"
lock() { flock 9; }
unlock() { flock -u 9; }

# ---------------------------------------------------------------------------
step "setup: podman, runc, debootstrap, containers.conf"
lock
need=()
# catatonit: the pause process of `podman kube play` pods (a Recommends).
# The rest: probe.py's client (also in tools/dev's list).
for p in podman runc catatonit debootstrap yamllint file \
	python3-grpcio python3-protobuf protobuf-compiler protobuf-compiler-grpc grpc-proto; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
# The schema checks' node (the machine image has one; Debian's otherwise).
command -v node >/dev/null && command -v npm >/dev/null || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		fail "setup: not root, cannot install ${need[*]}"
		finish
	fi
	say "installing ${need[*]}"
	if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			"${need[@]}" >/dev/null; } >"$tmp/apt.log" 2>&1; then
		fail "setup: apt-get install ${need[*]}"
		tail -20 "$tmp/apt.log"
		finish
	fi
fi
# podman reads this file in every process, conmon's cleanup included (an
# environment variable such as CONTAINERS_CONF would not reach that one, and
# every `podman run --rm` would then hang ~20 s): it must exist before the
# first podman command. A file already there is left alone.
conf=/etc/containers/containers.conf
if [ ! -e "$conf" ]; then
	hard=$(ulimit -Hn)
	[ "$hard" = unlimited ] && hard=1048576
	mkdir -p /etc/containers
	cat >"$conf" <<EOF
# Written by sigstream's test/container/run.sh (podman as root on a machine
# whose root lacks CAP_SYS_RESOURCE and whose cgroups are hybrid).
[containers]
# Default rlimits above the hard limits cannot be set here.
default_ulimits = [
  "nofile=$hard:$hard",
  "nproc=32768:32768",
]

[engine]
# crun fails on hybrid cgroups; runc works.
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
	say "wrote $conf"
else
	for key in runtime cgroup_manager default_ulimits; do
		grep -q "^ *$key *=" "$conf" ||
			say "note: $conf has no $key setting; on this kind of machine podman needs it (see the notes)"
	done
fi
if podman info >"$tmp/info.log" 2>&1; then
	pass "setup: podman $(podman version --format '{{.Client.Version}}') with $(podman info --format '{{.Host.OCIRuntime.Name}}')"
else
	fail "setup: podman info"
	tail -20 "$tmp/info.log"
	finish
fi

# ---------------------------------------------------------------------------
step "base image $base_image"
if podman image exists "$base_image"; then
	pass "base image: $base_image present"
else
	rootfs=$cache/debootstrap/bookworm-minbase
	if [ ! -f "$rootfs/.complete" ]; then
		# The mirror apt uses here (deb822 .sources or a one-line list).
		mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
			grep -v -e security -e nodesource -e google | head -1)
		[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' \
			/etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null)
		[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
		say "debootstrap --variant=minbase bookworm from $mirror (about a minute)"
		rm -rf "$rootfs"
		mkdir -p "$rootfs"
		if debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$tmp/debootstrap.log" 2>&1; then
			rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
			touch "$rootfs/.complete"
		else
			tail -20 "$tmp/debootstrap.log"
		fi
	fi
	if [ -f "$rootfs/.complete" ] &&
		tar -C "$rootfs" --exclude=./.complete -c . | podman import - "$base_image" >/dev/null &&
		podman tag "$base_image" docker.io/library/debian:bookworm-slim; then
		pass "base image: $base_image imported from debootstrap"
	else
		fail "base image: debootstrap or podman import"
		finish
	fi
fi
unlock

# ---------------------------------------------------------------------------
step "podman build"
old_id=$(podman image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
revision=$(git -C "$top" rev-parse HEAD 2>/dev/null || echo unknown)
if podman build --pull=never -f Containerfile -t "$image" \
	--build-arg VERSION="$version" --build-arg REVISION="$revision" . >"$tmp/build.log" 2>&1; then
	pass "build: Containerfile"
else
	fail "build: Containerfile"
	tail -40 "$tmp/build.log"
	finish
fi
new_id=$(podman image inspect --format '{{.Id}}' "$image")
# The image this build replaced: untagged now, remove it (its cached build
# stages stay).
if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
	podman rmi "$old_id" >/dev/null 2>&1 || true
fi
# Every source change leaves an untagged build stage (~12 MB) behind; those
# older than a day go (the newest stays as the next build's cache).
podman image prune -f --filter until=24h >/dev/null 2>&1 || true

step "image checks"
size=$(podman image inspect --format '{{.Size}}' "$image")
size_mb=$(awk -v s="$size" 'BEGIN { printf "%.2f", s / 1e6 }')
say "image $image: $size bytes ($size_mb MB)"
if [ "$size" -lt "$size_limit" ]; then
	pass "image: $size_mb MB < 12.6 MB (the Go reference binary)"
else
	fail "image: $size_mb MB, not below 12.6 MB"
fi
image_config() {
	local want_user=65532:65532 got
	got=$(podman image inspect --format '{{.Config.User}}' "$image")
	[ "$got" = "$want_user" ] || { echo "user '$got', want $want_user"; return 1; }
	got=$(podman image inspect --format '{{json .Config.Entrypoint}}' "$image")
	[ "$got" = '["/sigstreamd","--listen","0.0.0.0:50051"]' ] || { echo "entrypoint $got"; return 1; }
	got=$(podman image inspect --format '{{json .Config.ExposedPorts}}' "$image")
	[[ $got == *'"50051/tcp"'* ]] || { echo "exposed ports $got"; return 1; }
	local l
	for l in source version description licenses; do
		got=$(podman image inspect --format "{{index .Labels \"org.opencontainers.image.$l\"}}" "$image")
		[ -n "$got" ] || { echo "no label org.opencontainers.image.$l"; return 1; }
	done
	got=$(podman image inspect --format '{{index .Labels "org.opencontainers.image.version"}}' "$image")
	[ "$got" = "$version" ] || { echo "version label '$got', meson.build says $version"; return 1; }
	grep -q "^ARG VERSION=$version\$" Containerfile ||
		{ echo "Containerfile: ARG VERSION is not $version (meson.build)"; return 1; }
}
check "image: user 65532:65532, entrypoint, port 50051, OCI labels, version $version" image_config
image_files() {
	local c
	c=$(podman create "$image") || return 1
	podman export "$c" >"$tmp/rootfs.tar"
	podman rm "$c" >/dev/null
	tar -tf "$tmp/rootfs.tar" | sed 's|^\./||; s|/$||' | grep -v '^$' | sort >"$tmp/files"
	# podman's mount points of an exported container (empty) are not content.
	grep -v -x -E 'dev|proc|sys|etc|etc/(hosts|hostname|resolv.conf)|run|run/.containerenv' \
		"$tmp/files" >"$tmp/content" || true
	if [ "$(tr '\n' ' ' <"$tmp/content")" != "sigstream sigstreamd " ]; then
		echo "image content is not exactly /sigstream and /sigstreamd:"
		cat "$tmp/content"
		return 1
	fi
	mkdir "$tmp/rootfs" && tar -C "$tmp/rootfs" -xf "$tmp/rootfs.tar" sigstreamd sigstream
	local f
	for f in sigstreamd sigstream; do
		file "$tmp/rootfs/$f"
		file "$tmp/rootfs/$f" | grep -q 'statically linked' || return 1
		say "binary /$f: $(stat -c %s "$tmp/rootfs/$f") bytes (stripped)" >&3
	done
}
exec 3>&1
check "image: exactly /sigstreamd and /sigstream, both statically linked, no shell" image_files
version_out() {
	local out
	out=$(podman run --rm "$image" --version) && echo "$out" &&
		[ "$out" = "sigstreamd $version" ] &&
		out=$(podman run --rm --entrypoint /sigstream "$image" --version) && echo "$out" &&
		[[ $out == *"$version"* ]]
}
check "image: sigstreamd --version and sigstream --version say $version" version_out

# ---------------------------------------------------------------------------
step "run the image (read-only, no capabilities, loopback port)"
port=$(free_port)
if podman run -d --name "$ctr" --read-only --cap-drop=ALL --security-opt=no-new-privileges \
	-p "127.0.0.1:$port:50051" -e SIGSTREAM_RATE=2000 -e SIGSTREAM_GRACE=5 \
	"$image" >"$tmp/run.log" 2>&1; then
	pass "run: container $ctr on 127.0.0.1:$port"
	pid=$(podman inspect --format '{{.State.Pid}}' "$ctr")
	run_uid() {
		local uids
		uids=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$pid/status") || return 1
		echo "uids of pid $pid: $uids"
		[ "$uids" = "65532 65532 65532 65532" ]
	}
	check "run: sigstreamd runs as uid 65532 (not root)" run_uid
	check "run: an independent client (python3-grpcio) streams 500 signals" \
		probe stream "127.0.0.1:$port" 500 --timeout 20
	check "run: StreamSignalBatches streams 500 signals" \
		probe stream "127.0.0.1:$port" 500 --batches --timeout 20
	health() {
		probe health "$@"
		local rc=$?
		[ $rc -ne 3 ] || echo "the grpc.health.v1 service is not implemented yet (server/rpc_health.c)"
		return $rc
	}
	check "run: grpc.health.v1 Check(\"\") is SERVING" health "127.0.0.1:$port" "" --timeout 10
	check "run: grpc.health.v1 Check(\"signals.v1.SignalService\") is SERVING" \
		health "127.0.0.1:$port" signals.v1.SignalService --timeout 10
	cli_in_image() {
		local out
		out=$(timeout 30 podman run --rm --network "container:$ctr" --entrypoint /sigstream \
			"$image" subscribe --server 127.0.0.1:50051 --count 5) || return 1
		echo "$out"
		[ "$(grep -c . <<<"$out")" -eq 5 ]
	}
	check "run: the image's sigstream CLI subscribes (5 signals)" cli_in_image
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
	say "sigstreamd in the container: RSS ${rss:-?} kB"
	graceful_stop() {
		local t0=$EPOCHREALTIME code
		podman stop -t 30 "$ctr" >/dev/null || return 1
		awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "stopped in %.2f s\n", b - a }'
		code=$(podman inspect --format '{{.State.ExitCode}}' "$ctr")
		podman logs "$ctr" 2>&1 | tail -3
		[ "$code" = 0 ] || { echo "exit code $code"; return 1; }
		podman logs "$ctr" 2>&1 | grep -q 'event=stopped'
	}
	check "run: SIGTERM (podman stop) ends sigstreamd cleanly, exit 0" graceful_stop
	podman rm -f -t 0 "$ctr" >/dev/null 2>&1
else
	fail "run: podman run"
	tail -20 "$tmp/run.log"
fi

# ---------------------------------------------------------------------------
step "manifests: kubectl kustomize, schemas, policy, yamllint"
overlays=(k8s/base k8s/overlays/*/)
have_kubectl=1
command -v kubectl >/dev/null || have_kubectl=0
rendered=()
if [ "$have_kubectl" -eq 0 ]; then
	skip "manifests: kubectl not found (it is on the machine image at /usr/bin/kubectl; no apt source)"
else
	for d in "${overlays[@]}"; do
		d=${d%/}
		name=$(basename "$d")
		if kubectl kustomize "$d" >"$tmp/$name.yaml" 2>"$tmp/$name.err"; then
			pass "manifests: kubectl kustomize $d ($(grep -c '^kind:' "$tmp/$name.yaml") objects)"
			rendered+=("$name=$tmp/$name.yaml")
		else
			fail "manifests: kubectl kustomize $d"
			cat "$tmp/$name.err"
		fi
	done
	if [ -f "$tmp/base.yaml" ]; then
		check "manifests: k8s/base runs image sigstream:$version (meson.build's version)" \
			grep -q "^ *image: sigstream:$version\$" "$tmp/base.yaml"
	fi
	npm_dir=$cache/npm
	lock
	if [ ! -f "$npm_dir/.kubernetes-models-$kubernetes_models" ]; then
		say "npm install kubernetes-models@$kubernetes_models yaml@$yaml_pkg into $npm_dir"
		rm -rf "$npm_dir" && mkdir -p "$npm_dir" &&
			npm install --prefix "$npm_dir" --no-audit --no-fund --ignore-scripts --loglevel=error \
				"kubernetes-models@$kubernetes_models" "yaml@$yaml_pkg" >"$tmp/npm.log" 2>&1 &&
			touch "$npm_dir/.kubernetes-models-$kubernetes_models" || cat "$tmp/npm.log"
	fi
	unlock
	if ! command -v node >/dev/null || [ ! -f "$npm_dir/.kubernetes-models-$kubernetes_models" ]; then
		fail "manifests: node and the npm packages kubernetes-models, yaml"
	else
		for r in "${rendered[@]}"; do
			check "manifests: ${r%%=*}: Kubernetes 1.27 schemas, no unknown field, sigstream policy" \
				node "$here/validate.mjs" --modules "$npm_dir" --options server/options.c "$r"
		done
	fi
fi
if command -v yamllint >/dev/null; then
	check "manifests: yamllint k8s/" yamllint -s -d \
		'{extends: default, rules: {line-length: {max: 100}, document-start: disable}}' k8s
else
	skip "manifests: yamllint not installed"
fi

# ---------------------------------------------------------------------------
step "podman kube play k8s/overlays/podman-test"
if [ "$have_kubectl" -eq 0 ]; then
	skip "kube play: kubectl not found"
else
	kport=$(free_port)
	# The overlay, with its published port moved to a free one and a name of
	# this run's own (pod sigstream-tPID-pod-0); kustomize takes no absolute
	# path.
	mkdir -p "$tmp/kube"
	cat >"$tmp/kube/kustomization.yaml" <<EOF
nameSuffix: -t$$
resources:
  - $(realpath --relative-to="$tmp/kube" "$top/k8s/overlays/podman-test")
patches:
  - target:
      kind: Deployment
      name: sigstream
    patch: |-
      - op: replace
        path: /spec/template/spec/containers/0/ports/0/hostPort
        value: $kport
EOF
	kube_yaml=$tmp/kube.yaml
	if ! kubectl kustomize "$tmp/kube" >"$kube_yaml" 2>"$tmp/kube.err"; then
		fail "kube play: render"
		cat "$tmp/kube.err"
		kube_yaml=
	elif podman kube play "$kube_yaml" >"$tmp/play.log" 2>&1; then
		pass "kube play: the Deployment runs (published on 127.0.0.1:$kport)"
		kctr=sigstream-t$$-pod-0-sigstream
		kube_settings() {
			local got want kpid
			got=$(podman inspect --format 'user={{.Config.User}} ro={{.HostConfig.ReadonlyRootfs}} mem={{.HostConfig.Memory}} cpu={{.HostConfig.CpuQuota}}/{{.HostConfig.CpuPeriod}} caps={{.EffectiveCaps}}' "$kctr") || return 1
			kpid=$(podman inspect --format '{{.State.Pid}}' "$kctr")
			got+=" uid=$(awk '/^Uid:/ { print $2 }' "/proc/$kpid/status")"
			got+=" port=$(podman port "$kctr" 50051/tcp)"
			want="user=65532:65532 ro=true mem=134217728 cpu=50000/100000 caps=[] uid=65532 port=127.0.0.1:$kport"
			echo "got:  $got"
			echo "want: $want"
			say "sigstreamd in the pod: RSS $(awk '/^VmRSS:/ { print $2 }' "/proc/$kpid/status") kB" >&3
			[ "$got" = "$want" ] || return 1
			podman inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$kctr" |
				grep '^SIGSTREAM_' | sort | tee "$tmp/kube.env"
			# SIGSTREAM_THREADS comes from limits.cpu (500m, rounded up).
			grep -qx 'SIGSTREAM_GRACE=20' "$tmp/kube.env" &&
				grep -qx 'SIGSTREAM_MAX_CONNECTION_AGE=1800' "$tmp/kube.env" &&
				grep -qx 'SIGSTREAM_THREADS=1' "$tmp/kube.env" &&
				podman logs "$kctr" 2>&1 | grep -m1 'event=listening' | grep -q ' threads=1 '
		}
		check "kube play: uid 65532, read-only root, no capabilities, limits 500m/128Mi, loopback port, SIGSTREAM_* env" kube_settings
		check "kube play: an independent client streams 300 signals from the pod" \
			probe stream "127.0.0.1:$kport" 300 --timeout 20
		check "kube play: grpc.health.v1 Check(\"signals.v1.SignalService\") is SERVING" \
			probe health "127.0.0.1:$kport" signals.v1.SignalService --timeout 10
		if podman kube down "$kube_yaml" >"$tmp/down.log" 2>&1; then
			pass "kube play: podman kube down"
			kube_yaml=
		else
			fail "kube play: podman kube down"
			cat "$tmp/down.log"
		fi
	else
		fail "kube play: podman kube play"
		tail -20 "$tmp/play.log"
	fi
fi

finish
