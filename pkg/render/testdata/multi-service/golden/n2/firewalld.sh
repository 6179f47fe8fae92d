#!/bin/sh
# firewalld rules for n2 of cluster multi.
# Rendered by hala: edit the inventory and run `hala render`, not this file.
# Run as root on n2: sh firewalld.sh
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
add 'rule family="ipv4" source address="10.9.0.1/32" protocol value="vrrp" accept'

# Log ports on the VIPs (any director may hold them), only from firewall.log_sources.
add 'rule family="ipv4" source address="10.0.0.0/8" destination address="10.9.0.100/32" port port="514" protocol="udp" accept'
add 'rule family="ipv4" source address="10.0.0.0/8" destination address="10.9.0.100/32" port port="514" protocol="tcp" accept'
add 'rule family="ipv4" source address="10.0.0.0/8" destination address="10.9.0.101/32" port port="514" protocol="udp" accept'
add 'rule family="ipv4" source address="10.0.0.0/8" destination address="10.9.0.101/32" port port="12201" protocol="udp" accept'

# Logstash monitoring API (read by hala check) only from the directors.
add 'rule family="ipv4" source address="10.9.0.1/32" destination address="10.9.0.2/32" port port="9600" protocol="tcp" accept'

# Log ports of the services this host is a backend of, only from firewall.log_sources.
add 'rule family="ipv4" source address="10.0.0.0/8" destination address="10.9.0.2/32" port port="514" protocol="udp" accept'
add 'rule family="ipv4" source address="10.0.0.0/8" destination address="10.9.0.2/32" port port="514" protocol="tcp" accept'
add 'rule family="ipv4" source address="10.0.0.0/8" destination address="10.9.0.2/32" port port="1514" protocol="udp" accept'

firewall-cmd --reload
