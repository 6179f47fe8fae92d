#!/bin/sh
# Prepares lb3 of cluster stash for hala.
# Rendered by hala: edit the inventory and run `hala render`, not this file.
# Run as root from the rendered directory on lb3: sh setup.sh
# Safe to run again: every step checks before it changes anything.
set -eu
here=$(cd "$(dirname "$0")" && pwd)

# hala drain's records: written by root only, read by hala check (the
# script user) and hala director; kept across reboots.
install -d -m 0755 -o root -g root '/var/lib/hala/drain'

# keepalived silently drops a check whose program, or any directory above it,
# is not owned by root or is writable by group or others.
hala='/usr/local/bin/hala'
if [ ! -x "$hala" ]; then
	echo "setup: $hala is missing: install the hala binary there (owner root, mode 0755)" >&2
	exit 1
fi
p=$hala
while :; do
	if [ "$(stat -L -c %u "$p")" != 0 ] || [ -n "$(find -L "$p" -maxdepth 0 -perm /022)" ]; then
		echo "setup: $p must be owned by root and not writable by group or others" >&2
		exit 1
	fi
	[ "$p" = / ] && break
	p=$(dirname "$p")
done

# IPVS: load ip_vs now and at every boot, before sysctl applies net.ipv4.vs.*.
if [ "$(cat /etc/modules-load.d/hala.conf 2>/dev/null)" != ip_vs ]; then
	echo ip_vs >/etc/modules-load.d/hala.conf
fi
modprobe ip_vs

install -D -m 0644 "$here/sysctl.d/90-hala.conf" /etc/sysctl.d/90-hala.conf
sysctl -q -p /etc/sysctl.d/90-hala.conf

# hala director (cluster.ipvs = "director") runs as this user with only
# CAP_NET_ADMIN, and reads the inventory from /etc/hala/inventory.toml.
if ! id -u hala >/dev/null 2>&1; then
	useradd --system --no-create-home --shell /usr/sbin/nologin hala
	echo "setup: created user hala"
fi
if [ ! -f '/etc/hala/inventory.toml' ]; then
	echo "setup: copy the inventory to /etc/hala/inventory.toml (hala director reads it), then run setup.sh again" >&2
	exit 1
fi
chgrp hala '/etc/hala/inventory.toml'
chmod 0640 '/etc/hala/inventory.toml'
install -D -m 0644 "$here/hala-director.service" /etc/systemd/system/hala-director.service
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload
	systemctl enable --now hala-director.service
	echo "setup: enabled and started hala-director.service"
else
	echo "setup: systemd is not running: start $hala director -i /etc/hala/inventory.toml yourself, before keepalived" >&2
fi
echo "setup: lb3 done"
