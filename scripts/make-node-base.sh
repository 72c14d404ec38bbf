#!/usr/bin/env bash
# Makes the chapter's base image `diamol/node` offline, with no registry:
# a busybox-static rootfs plus the host's node binary and the shared
# libraries it links (apt's nodejs is installed first if there is no node).
# Usage: make-node-base.sh STRATA_BINARY [STRATA_ROOT]
set -euo pipefail
STRATA=$1; ROOT_ARGS=()
[ -n "${2:-}" ] && ROOT_ARGS=(--root "$2")
command -v node >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs >/dev/null; }
NODE=$(readlink -f "$(command -v node)")
BUSYBOX=$(readlink -f "$(command -v busybox)")
R=$(mktemp -d /tmp/strata-node-rootfs.XXXX)
trap 'rm -rf "$R"' EXIT
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,etc,root,tmp,var/tmp,home/node,dev,proc,sys}
chmod 1777 "$R/tmp" "$R/var/tmp"; chmod 700 "$R/root"
install -m 0755 "$BUSYBOX" "$R/bin/busybox"
"$BUSYBOX" --list-full | while read -r p; do
  [ "$p" = bin/busybox ] && continue
  mkdir -p "$R/$(dirname "$p")"; ln -sf /bin/busybox "$R/$p"
done
install -m 0755 "$NODE" "$R/usr/local/bin/node"
# the dynamic loader and every library node links, at the same paths
for lib in $(ldd "$NODE" | awk '/=>/ {print $3} /^\t\// {print $1}'); do
  mkdir -p "$R$(dirname "$lib")"; cp -L "$lib" "$R$lib"
done
[ -d /etc/ssl/certs ] && mkdir -p "$R/etc/ssl" && cp -rL /etc/ssl/certs "$R/etc/ssl/" 2>/dev/null || true
printf 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000:node:/home/node:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' >"$R/etc/passwd"
printf 'root:x:0:\nnode:x:1000:\nnobody:x:65534:\n' >"$R/etc/group"
chown 1000:1000 "$R/home/node"
find "$R" -exec touch -h -d @0 {} +     # reproducible layer digest
tar --numeric-owner --sort=name -C "$R" -cf - . \
  | "$STRATA" "${ROOT_ARGS[@]}" image import \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'CMD ["node"]' - diamol/node:latest
