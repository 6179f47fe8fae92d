#!/bin/sh
# Prepares lb1 of cluster stash for hala.
# Rendered by hala: edit the inventory and run `hala render`, not this file.
# Run as root from the rendered directory on lb1: sh setup.sh
# Safe to run again: every step checks before it changes anything.
set -eu
here=$(cd "$(dirname "$0")" && pwd)

# hala drain's records: written by root only, read by hala check (the
# script user) and hala director; kept across reboots.
install -d -m 0755 -o root -g root '/var/lib/hala/drain'

# keepalived silently drops a check whose program, or any directory above it,
# is not owned by root or is writable by group or others.
hala='/usr/bin/hala'
if [ ! -x "$hala" ]; then
	if found=$(command -v hala 2>/dev/null) && [ -n "$found" ]; then
		echo "setup: hala is installed as $found, but the inventory's cluster.hala_path is $hala: set hala_path = \"$found\" under [cluster] and run hala render again" >&2
	else
		echo "setup: $hala (cluster.hala_path) is missing: install the hala package (it puts hala there), or copy the binary there (owner root, mode 0755)" >&2
	fi
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
# It runs in hala-director, next to hala (hala director executes it).
if [ ! -x "$(dirname "$hala")/hala-director" ]; then
	echo "setup: $(dirname "$hala")/hala-director is missing: install it next to hala (owner root, mode 0755)" >&2
	exit 1
fi
if ! id -u hala >/dev/null 2>&1; then
	useradd --system --no-create-home --shell /usr/sbin/nologin hala
	echo "setup: created user hala"
fi
if [ ! -f '/etc/hala/inventory.toml' ]; then
	echo "setup: copy the inventory to /etc/hala/inventory.toml (hala director reads it): install -D -m 0640 inventory.toml /etc/hala/inventory.toml; then run setup.sh again" >&2
	exit 1
fi
chgrp hala '/etc/hala/inventory.toml'
chmod 0640 '/etc/hala/inventory.toml'

# One unit definition: the hala package's, else this copy of it (the same
# text), in /etc/systemd/system.
unit=/etc/systemd/system/hala-director.service
changed=no
packaged=
for d in /lib/systemd/system /usr/lib/systemd/system; do
	[ -f "$d/hala-director.service" ] && packaged=$d/hala-director.service
done
if [ -n "$packaged" ]; then
	if [ -f "$unit" ] && grep -q '^# systemd unit of hala director' "$unit"; then
		rm -f "$unit"
		changed=yes
		echo "setup: removed $unit, which overrode the package's $packaged"
	elif [ -f "$unit" ]; then
		echo "setup: $unit overrides the package's $packaged: remove it unless you mean to" >&2
	fi
elif ! cmp -s "$here/hala-director.service" "$unit"; then
	install -D -m 0644 "$here/hala-director.service" "$unit"
	changed=yes
	echo "setup: installed $unit"
fi

# Its settings, in one place: /etc/default/hala-director names this director.
defaults=/etc/default/hala-director
want='--node lb1'
if [ ! -f "$defaults" ]; then
	install -D -m 0644 "$here/default/hala-director" "$defaults"
	changed=yes
	echo "setup: wrote $defaults"
elif grep -qx 'HALA_DIRECTOR_ARGS=""' "$defaults"; then
	sed -i "s/^HALA_DIRECTOR_ARGS=\"\"\$/HALA_DIRECTOR_ARGS=\"$want\"/" "$defaults"
	changed=yes
	echo "setup: set HALA_DIRECTOR_ARGS=\"$want\" in $defaults"
elif ! grep -q "^HALA_DIRECTOR_ARGS=.*$want\( \|\"\)" "$defaults"; then
	echo "setup: $defaults keeps its HALA_DIRECTOR_ARGS, which lacks $want: check it names this director" >&2
fi
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload
	systemctl enable --now hala-director.service
	[ "$changed" = no ] || systemctl restart hala-director.service
	echo "setup: enabled and started hala-director.service"
else
	echo "setup: systemd is not running: start $hala director -i /etc/hala/inventory.toml $want yourself, before keepalived" >&2
fi
echo "setup: lb1 done"
