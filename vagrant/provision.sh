#!/usr/bin/env bash
# Provision one shoal lab VM: install the binary and the data-plane unit.
# Arguments: NODE_NAME UNDERLAY_ADDR
set -euo pipefail
node="$1"
addr="$2"
install -m 0755 /tmp/shoal /usr/local/bin/shoal
# The underlay NIC is the one holding the lab address.
iface="$(ip -o -4 addr show | awk -v a="$addr" '$4 ~ "^"a"/" {print $2; exit}')"
if [ -z "$iface" ]; then
    echo "provision: no interface holds $addr" >&2
    exit 1
fi
mkdir -p /etc/shoal
printf 'SHOAL_NODE=%s\nSHOAL_UNDERLAY_IFACE=%s\n' "$node" "$iface" > /etc/shoal/node.env
install -m 0644 /tmp/shoal-dataplane.service /etc/systemd/system/shoal-dataplane.service
systemctl daemon-reload
systemctl enable --now shoal-dataplane.service
shoal dp status
