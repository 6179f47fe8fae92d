#!/bin/sh
# firewalld rules for d2 of cluster secure.
# Rendered by hala: edit the inventory and run `hala render`, not this file.
# Run as root on d2: sh firewalld.sh
# Idempotent: a rule is added only when --query-rich-rule does not find it.
set -eu
zone='public'

add() {
	if firewall-cmd --permanent --zone="$zone" --query-rich-rule="$1" >/dev/null 2>&1; then
		echo "present: $1"
	else
		firewall-cmd --permanent --zone="$zone" --add-rich-rule="$1" >/dev/null
		echo "added:   $1"
	fi
}

# VRRP (IP protocol 112) from the other directors only; if it were blocked, every director would become MASTER.
add 'rule family="ipv4" source address="192.0.2.1/32" protocol value="vrrp" accept'

# Log ports on the VIPs (any director may hold them), only from firewall.log_sources.
add 'rule family="ipv4" source address="192.0.2.0/24" destination address="192.0.2.100/32" port port="5514" protocol="udp" accept'
add 'rule family="ipv4" source address="192.0.2.0/24" destination address="192.0.2.100/32" port port="5044" protocol="tcp" accept'

firewall-cmd --reload
