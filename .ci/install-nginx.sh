#!/usr/bin/env bash
# Installs, for the tests only, an nginx at least as new as the one the balancer image pins.
#
# The AWS and Kubernetes configs use upstream `resolve` (nginx >= 1.27.3); Debian stable's nginx
# is older, so the tests would otherwise never start the nginx the images run. Debian unstable's
# nginx binary is unpacked privately, with the runtime libraries it needs (its OpenSSL and PCRE2
# are newer than stable's, and that OpenSSL needs a newer glibc), and run through that glibc's own
# loader. Nothing of the system changes: no sources.list entry, no dpkg database entry.
# apt verifies every package against the signed archive index (debian-archive-keyring).
#
# Idempotent: when the cache already holds a build at least as new as the pinned version, nothing
# is fetched. Prints the path of the `nginx` wrapper on its last line.
#
#   bash .ci/install-nginx.sh            # into /var/cache/apistack (or $APISTACK_CACHE_DIR)
#   APISTACK_NGINX=$(bash .ci/install-nginx.sh | tail -1)
set -euo pipefail
cd "$(dirname "$0")/.."

# The line the image pins (nginx/Dockerfile, checked against nginx/versions.ts by the tests).
pinned=$(sed -n 's/^ARG NGINX_VERSION=\([0-9.]*\).*/\1/p' nginx/Dockerfile)
[ -n "$pinned" ] || { echo "install-nginx: no 'ARG NGINX_VERSION=' in nginx/Dockerfile" >&2; exit 1; }
cache="${APISTACK_CACHE_DIR:-/var/cache/apistack}"
suite="${APISTACK_NGINX_SUITE:-sid}"
mkdir -p "$cache"

# Upstream version of a wrapper's nginx ("1.30.6"), empty when it does not run.
version_of() { "$1" -v 2>&1 | sed -n 's|^nginx version: nginx/\([0-9.]*\).*|\1|p'; }
at_least() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -1)" = "$2" ]; }

for wrapper in "$cache"/nginx-*/nginx; do
  [ -x "$wrapper" ] || continue
  have=$(version_of "$wrapper" || true)
  if [ -n "$have" ] && at_least "$have" "$pinned"; then
    echo "install-nginx: nginx $have (>= pinned $pinned) already in $(dirname "$wrapper")"
    echo "$wrapper"
    exit 0
  fi
done

started=$(date +%s)
apt_dir="$cache/apt-$suite"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main" >"$apt_dir/sources.list"
apt_opts=(-q -o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
  -o Dir::State::status=/dev/null -o APT::Sandbox::User=root)
apt-get "${apt_opts[@]}" update >/dev/null || { echo "install-nginx: apt-get update for Debian $suite failed" >&2; exit 1; }

deb_version=$(apt-cache "${apt_opts[@]}" show nginx | sed -n 's/^Version: //p' | sort -V | tail -1)
[ -n "$deb_version" ] || { echo "install-nginx: Debian $suite has no nginx package" >&2; exit 1; }
upstream=${deb_version%%-*}
upstream=${upstream#*:}
if ! at_least "$upstream" "$pinned"; then
  echo "install-nginx: Debian $suite has nginx $deb_version, older than the pinned $pinned (nginx/Dockerfile)" >&2
  exit 1
fi

dest="$cache/nginx-$deb_version"
work=$(mktemp -d "$cache/.nginx-XXXXXX")
trap 'rm -rf "$work"' EXIT
# nginx and every library it loads: libc6 brings the loader the wrapper runs it with.
packages=(nginx libc6 libcrypt1 libpcre2-8-0 libssl3t64 zlib1g libzstd1)
(cd "$work" && apt-get "${apt_opts[@]}" download "${packages[@]}" >/dev/null) \
  || { echo "install-nginx: downloading ${packages[*]} from Debian $suite failed" >&2; exit 1; }
mkdir -p "$work/root"
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/root"; done

mkdir -p "$work/out/lib"
cp "$work/root/usr/sbin/nginx" "$work/out/nginx.bin"
# Every shared object of those packages in one directory, links kept.
for libdir in "$work/root/usr/lib/x86_64-linux-gnu" "$work/root/lib/x86_64-linux-gnu"; do
  if [ -d "$libdir" ]; then find "$libdir" -maxdepth 1 -name '*.so*' -exec cp -a {} "$work/out/lib/" \;; fi
done
loader=$(find "$work/root" -name 'ld-linux-x86-64.so.2' | head -1)
[ -n "$loader" ] || { echo "install-nginx: libc6 from Debian $suite has no ld-linux-x86-64.so.2" >&2; exit 1; }
cp -L "$loader" "$work/out/ld-linux-x86-64.so.2"
cat >"$work/out/nginx" <<'EOF'
#!/bin/sh
# nginx from Debian, run with the glibc, OpenSSL and PCRE2 it was built against (see .ci/install-nginx.sh).
here=$(dirname "$(readlink -f "$0")")
exec "$here/ld-linux-x86-64.so.2" --library-path "$here/lib" "$here/nginx.bin" "$@"
EOF
chmod 755 "$work/out/nginx"
have=$(version_of "$work/out/nginx" || true)
[ "$have" = "$upstream" ] || { echo "install-nginx: the unpacked nginx does not run:" >&2; "$work/out/nginx" -v >&2 || true; exit 1; }
rm -rf "$dest"
mv "$work/out" "$dest"
echo "install-nginx: nginx $deb_version from Debian $suite in $dest ($(($(date +%s) - started))s)"
echo "$dest/nginx"
