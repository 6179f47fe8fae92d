#!/bin/sh
# Prepares ls1 of cluster logs-dr for hala.
# Rendered by hala: edit the inventory and run `hala render`, not this file.
# Run as root from the rendered directory on ls1: sh setup.sh
# Safe to run again: every step checks before it changes anything.
set -eu
here=$(cd "$(dirname "$0")" && pwd)

install -D -m 0644 "$here/sysctl.d/90-hala.conf" /etc/sysctl.d/90-hala.conf
sysctl -q -p /etc/sysctl.d/90-hala.conf

# Direct routing: the director forwards packets for VIP logs unchanged; holding it on lo lets this host accept them.
# Not persistent: add it to the network configuration to survive a reboot.
ip addr replace 10.0.5.50/32 dev lo
echo "setup: ls1 done"
