#!/usr/bin/env bash
# Provision one shoal lab VM: install the binary, runc, the data-plane unit
# and the daemon unit.
# Arguments: NODE_NAME UNDERLAY_ADDR
set -euo pipefail
node="$1"
addr="$2"
install -m 0755 /tmp/shoal /usr/local/bin/shoal
# Tasks are runc containers.
DEBIAN_FRONTEND=noninteractive apt-get install -y -q runc
# The underlay NIC is the one holding the lab address.
iface="$(ip -o -4 addr show | awk -v a="$addr" '$4 ~ "^"a"/" {print $2; exit}')"
if [ -z "$iface" ]; then
    echo "provision: no interface holds $addr" >&2
    exit 1
fi
mkdir -p /etc/shoal
printf 'SHOAL_NODE=%s\nSHOAL_UNDERLAY_IFACE=%s\n' "$node" "$iface" > /etc/shoal/node.env
install -m 0644 /tmp/shoal-dataplane.service /etc/systemd/system/shoal-dataplane.service
install -m 0644 /tmp/shoal.service /etc/systemd/system/shoal.service
systemctl daemon-reload
systemctl enable --now shoal-dataplane.service shoal.service
shoal dp status
for _ in $(seq 1 50); do
    [ -S "/run/shoal/$node.sock" ] && break
    sleep 0.2
done
SHOAL_NODE="$node" shoal swarm inspect
