#!/bin/sh
# firewalld rules for lb1 of cluster logs-prod.
# Rendered by hala: edit the inventory and run `hala render`, not this file.
# Run as root on lb1: sh firewalld.sh
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
add 'rule family="ipv4" source address="10.20.0.12/32" protocol value="vrrp" accept'
add 'rule family="ipv4" source address="10.20.0.13/32" protocol value="vrrp" accept'

# Log ports on the VIPs (any director may hold them), only from firewall.log_sources.
add 'rule family="ipv4" source address="10.30.0.0/16" destination address="10.20.0.100/32" port port="514" protocol="udp" accept'
add 'rule family="ipv4" source address="10.40.1.15/32" destination address="10.20.0.100/32" port port="514" protocol="udp" accept'
add 'rule family="ipv4" source address="10.30.0.0/16" destination address="10.20.0.101/32" port port="514" protocol="udp" accept'
add 'rule family="ipv4" source address="10.40.1.15/32" destination address="10.20.0.101/32" port port="514" protocol="udp" accept'
add 'rule family="ipv4" source address="10.30.0.0/16" destination address="10.20.0.100/32" port port="6514" protocol="tcp" accept'
add 'rule family="ipv4" source address="10.40.1.15/32" destination address="10.20.0.100/32" port port="6514" protocol="tcp" accept'

firewall-cmd --reload
