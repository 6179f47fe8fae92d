#!/bin/sh
# firewalld rules for lb-b of cluster uni.
# Rendered by hala: edit the inventory and run `hala render`, not this file.
# Run as root on lb-b: sh firewalld.sh
# Idempotent: a rule is added only when --query-rich-rule does not find it.
set -eu
zone='internal'

add() {
	if firewall-cmd --permanent --zone="$zone" --query-rich-rule="$1" >/dev/null 2>&1; then
		echo "present: $1"
	else
		firewall-cmd --permanent --zone="$zone" --add-rich-rule="$1" >/dev/null
		echo "added:   $1"
	fi
}

# VRRP (IP protocol 112) from the other directors only; if it were blocked, every director would become MASTER.
add 'rule family="ipv4" source address="10.1.0.1/32" protocol value="vrrp" accept'
add 'rule family="ipv4" source address="10.1.0.3/32" protocol value="vrrp" accept'

# Log ports on the VIPs (any director may hold them), only from firewall.log_sources.
add 'rule family="ipv4" source address="10.2.0.0/16" destination address="10.1.0.100/32" port port="514" protocol="udp" accept'
add 'rule family="ipv4" source address="10.3.0.7/32" destination address="10.1.0.100/32" port port="514" protocol="udp" accept'

firewall-cmd --reload
