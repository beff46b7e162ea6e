#!/bin/sh
# Builds a busybox root filesystem from the host's static busybox and imports it as the local
# image localhost/osvc-busybox:latest (or TAG), for the container examples. No registry is contacted.
#   sh examples/import-busybox.sh [podman|docker] [TAG]
set -eu
engine=${1:-podman}
tag=${2:-localhost/osvc-busybox:latest}
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
  CONTAINERS_CONF="$conf" podman import --change 'CMD ["/bin/sh"]' "$dir/busybox.tar" "$tag"
else
  docker import -c 'CMD ["/bin/sh"]' "$dir/busybox.tar" "$tag"
fi
