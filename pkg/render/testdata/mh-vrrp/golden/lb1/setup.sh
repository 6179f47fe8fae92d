#!/bin/sh
# Prepares lb1 of cluster mh for hala.
# Rendered by hala: edit the inventory and run `hala render`, not this file.
# Run as root from the rendered directory on lb1: sh setup.sh
# Safe to run again: every step checks before it changes anything.
set -eu
here=$(cd "$(dirname "$0")" && pwd)

# keepalived runs MISC_CHECK programs as this unprivileged user
# (enable_script_security); Debian's package does not create it.
script_user='keepalived_script'
if ! id -u "$script_user" >/dev/null 2>&1; then
	useradd --system --no-create-home --shell /usr/sbin/nologin "$script_user"
	echo "setup: created user $script_user"
fi

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

install -D -m 0600 "$here/keepalived.conf" /etc/keepalived/keepalived.conf
echo "setup: installed /etc/keepalived/keepalived.conf; apply it with: systemctl reload keepalived"
echo "setup: lb1 done"
