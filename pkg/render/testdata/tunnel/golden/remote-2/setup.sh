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
# Not persistent: add it to the network configuration to survive a reboot.
ip addr replace 172.16.0.50/32 dev tunl0
echo "setup: remote-2 done"
