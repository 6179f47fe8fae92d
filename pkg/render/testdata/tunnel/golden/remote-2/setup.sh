#!/bin/sh
# Prepares remote-2 of cluster tun for hala.
# Rendered by hala: edit the inventory and run `hala render`, not this file.
# Run as root from the rendered directory on remote-2: sh setup.sh
# Safe to run again: every step checks before it changes anything.
set -eu
here=$(cd "$(dirname "$0")" && pwd)

# IP-in-IP real server: the ipip module provides tunl0, which receives the VIP.
modprobe ipip
ip link set tunl0 up

install -D -m 0644 "$here/sysctl.d/90-hala.conf" /etc/sysctl.d/90-hala.conf
sysctl -q -p /etc/sysctl.d/90-hala.conf

# IP-in-IP: the director tunnels packets for VIP logs to this host; holding it on tunl0 lets this host accept them.
ip addr replace 172.16.0.50/32 dev tunl0

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
echo "setup: remote-2 done"
