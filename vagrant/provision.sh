#!/usr/bin/env bash
# Provision one shoal lab VM: install shoal's package (binary, data-plane
# and daemon units), name the node and its underlay NIC, enable and start
# both units (so every later boot loads the data plane, then the daemon),
# then put the node in the swarm. `cargo xtask vm up` and the Vagrantfile
# both run this script, unchanged, as root on each VM in turn (the manager
# first).
#
# Arguments: NODE_NAME UNDERLAY_ADDR MANAGER_ADDR
#   The node whose UNDERLAY_ADDR is MANAGER_ADDR runs `swarm init` and
#   offers the worker join token on MANAGER_ADDR:8099 for 15 minutes (the
#   lab's underlay is private: only the lab's VMs and the host's lab
#   namespace reach it); the others fetch it from there and join.
#   Running it again on a node already in a swarm changes nothing there.
set -euo pipefail
node="$1"
addr="$2"
manager="$3"
token_port=8099
# shoal's package (built on the host by `cargo xtask deb`): the binary, its
# systemd units and /etc/default/shoal; runc and iproute2 are in the image.
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
# Type=notify: `start` returns once the daemon said READY=1 (its socket answers).
systemctl enable --now shoal-dataplane.service shoal.service
shoal dp status
export SHOAL_NODE="$node"

if shoal node ls >/dev/null 2>&1; then
    echo "provision: $node is already in a swarm"
elif [ "$addr" = "$manager" ]; then
    shoal swarm init --advertise-addr "$addr"
    dir=/run/shoal-lab-token
    mkdir -p "$dir"
    shoal swarm join-token worker -q > "$dir/worker"
    systemd-run --unit=shoal-lab-token --property=RuntimeMaxSec=900 \
        busybox httpd -f -p "$addr:$token_port" -h "$dir"
else
    token=""
    for _ in $(seq 1 60); do
        token="$(curl -fsS --max-time 3 "http://$manager:$token_port/worker" || true)"
        [ -n "$token" ] && break
        sleep 2
    done
    if [ -z "$token" ]; then
        echo "provision: no join token from $manager:$token_port" >&2
        exit 1
    fi
    shoal swarm join --token "$token" "$manager:2377"
fi
shoal swarm inspect
