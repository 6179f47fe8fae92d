#!/bin/sh
# Prepares stash1 of cluster stash for hala.
# Rendered by hala: edit the inventory and run `hala render`, not this file.
# Run as root from the rendered directory on stash1: sh setup.sh
# Safe to run again: every step checks before it changes anything.
set -eu
here=$(cd "$(dirname "$0")" && pwd)

install -D -m 0644 "$here/sysctl.d/90-hala.conf" /etc/sysctl.d/90-hala.conf
sysctl -q -p /etc/sysctl.d/90-hala.conf

# Direct routing: the director forwards packets for VIP logs unchanged; holding it on lo lets this host accept them.
ip addr replace 10.99.0.10/32 dev lo

# The addresses above last until reboot; this unit restores them at boot,
# before Logstash starts.
install -D -m 0644 "$here/hala-local-vips.service" /etc/systemd/system/hala-local-vips.service
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload
	systemctl enable hala-local-vips.service
	echo "setup: enabled hala-local-vips.service"
else
	echo "setup: systemd is not running: make sure hala-local-vips.service (or your network configuration) restores the VIPs at boot" >&2
fi
echo "setup: stash1 done"
