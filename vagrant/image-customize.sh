#!/bin/sh
# Customise the lab's VM image (run by `cargo xtask vm image` as
# mmdebstrap's customize hook). Arguments: ROOTFS PUBLIC_KEY_FILE
#
# The image boots directly from its kernel and initrd (qemu -kernel, or
# vagrant-libvirt's kernel/initrd options) with the root file system on
# the whole of /dev/vda: no partitions, no bootloader. The node's name and
# underlay address come from the kernel command line (systemd.hostname=,
# ip=), so one image serves every node; shoal's package is installed per
# node by provision.sh, so a shoal change does not rebuild the image.
set -eu
root="$1"
pubkey="$2"

echo "/dev/vda / ext4 rw,discard,errors=remount-ro 0 1" > "$root/etc/fstab"
echo shoal-vm > "$root/etc/hostname"

# systemd-networkd: the underlay from the kernel's ip= argument (written to
# /run/systemd/network by systemd-network-generator, sorted before the file
# below), DHCP on any other NIC (vagrant-libvirt's management network).
mkdir -p "$root/etc/systemd/network"
cat > "$root/etc/systemd/network/99-dhcp.network" <<'EOF'
[Match]
Name=en* eth*

[Network]
DHCP=ipv4
EOF
chroot "$root" systemctl enable systemd-networkd.service systemd-network-generator.service
# network-online.target (shoal-dataplane.service waits for it) should not
# wait for a DHCP NIC that has no server: any one configured link will do.
mkdir -p "$root/etc/systemd/system/systemd-networkd-wait-online.service.d"
cat > "$root/etc/systemd/system/systemd-networkd-wait-online.service.d/any.conf" <<'EOF'
[Service]
ExecStart=
ExecStart=/usr/lib/systemd/systemd-networkd-wait-online --any --timeout=30
EOF

# ssh: the lab's key for root (the xtask) and for `vagrant` (Vagrant's
# default user, password-less sudo), no passwords.
install -d -m 700 "$root/root/.ssh"
install -m 600 "$pubkey" "$root/root/.ssh/authorized_keys"
chroot "$root" useradd --create-home --shell /bin/bash vagrant
install -d -m 700 -o 1000 -g 1000 "$root/home/vagrant/.ssh"
install -m 600 -o 1000 -g 1000 "$pubkey" "$root/home/vagrant/.ssh/authorized_keys"
echo "vagrant ALL=(ALL) NOPASSWD: ALL" > "$root/etc/sudoers.d/vagrant"
chmod 440 "$root/etc/sudoers.d/vagrant"
cat > "$root/etc/ssh/sshd_config.d/lab.conf" <<'EOF'
PasswordAuthentication no
PermitRootLogin prohibit-password
UseDNS no
EOF

# The serial console logs root in without a password: the lab's last resort
# when ssh does not answer (the VMs are reachable only from the lab's
# namespace, or vagrant-libvirt's console).
chroot "$root" passwd -d root

# Smaller image: no package lists, no docs.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/usr/share/doc/* \
    "$root"/usr/share/man/*
