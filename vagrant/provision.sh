#!/usr/bin/env bash
# Provision one shoal lab VM: install shoal's package (binary, data-plane
# and daemon units), name the node and its underlay NIC, start both units.
# Arguments: NODE_NAME UNDERLAY_ADDR
set -euo pipefail
node="$1"
addr="$2"
# shoal's package (built on the host by `cargo xtask deb`): the binary, its
# systemd units and /etc/default/shoal; apt pulls runc and iproute2.
if [ ! -f /tmp/shoal.deb ]; then
    echo "provision: no shoal package: run \`cargo xtask deb\` on the host first" >&2
    exit 1
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -q /tmp/shoal.deb
# The underlay NIC is the one holding the lab address.
iface="$(ip -o -4 addr show | awk -v a="$addr" '$4 ~ "^"a"/" {print $2; exit}')"
if [ -z "$iface" ]; then
    echo "provision: no interface holds $addr" >&2
    exit 1
fi
sed -i -e "s/^SHOAL_NODE=.*/SHOAL_NODE=$node/" \
       -e "s/^SHOAL_UNDERLAY_IFACE=.*/SHOAL_UNDERLAY_IFACE=$iface/" /etc/default/shoal
systemctl daemon-reload
systemctl enable --now shoal-dataplane.service shoal.service
shoal dp status
for _ in $(seq 1 50); do
    [ -S "/run/shoal/$node.sock" ] && break
    sleep 0.2
done
SHOAL_NODE="$node" shoal swarm inspect
