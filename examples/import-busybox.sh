#!/bin/sh
# Builds a busybox root filesystem from the host's static busybox and imports it as the local
# image localhost/osvc-busybox:latest (or IMAGE), for the container examples. No registry is contacted.
# Importing again replaces the image: the one the tag named before is removed (no dangling
# <none> image is left), unless a container still uses it.
#   sh examples/import-busybox.sh [podman|docker] [IMAGE]
set -eu
engine=${1:-podman}
image=${2:-localhost/osvc-busybox:latest}
busybox=$(command -v busybox || true)
[ -n "$busybox" ] || { echo "busybox not found: apt-get install busybox-static" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/rootfs/bin" "$dir/rootfs/etc" "$dir/rootfs/tmp" "$dir/rootfs/proc" "$dir/rootfs/sys" "$dir/rootfs/dev" "$dir/rootfs/www"
cp "$busybox" "$dir/rootfs/bin/busybox"
for a in sh ls cat sleep echo httpd wget mkdir; do ln -sf busybox "$dir/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$dir/rootfs/etc/passwd"
tar -C "$dir/rootfs" -cf "$dir/busybox.tar" .
if [ "$engine" = podman ]; then
  # The settings these machines need (host-environment.md §5), without touching /etc: podman 4
  # creates its network config dir (/etc/containers/networks by default) at every start-up.
  conf="$dir/containers.conf"
  printf '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]\n[engine]\nruntime = "runc"\n[network]\nnetwork_config_dir = "%s/networks"\n' "$dir" > "$conf"
  export CONTAINERS_CONF="$conf"
fi
old=$("$engine" image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
if [ "$engine" = podman ]; then
  podman import --change 'CMD ["/bin/sh"]' "$dir/busybox.tar" "$image"
else
  docker import -c 'CMD ["/bin/sh"]' "$dir/busybox.tar" "$image"
fi
new=$("$engine" image inspect --format '{{.Id}}' "$image")
if [ -n "$old" ] && [ "$old" != "$new" ]; then
  # The previous image lost its tag: remove it, or say why it stays (a container uses it).
  "$engine" rmi "$old" >/dev/null 2>&1 || echo "note: the previous image $old is still in use; remove it with: $engine rmi $old" >&2
fi
