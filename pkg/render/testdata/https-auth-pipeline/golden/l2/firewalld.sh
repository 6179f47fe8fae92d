#!/bin/sh
# firewalld rules for l2 of cluster secure.
# Rendered by hala: edit the inventory and run `hala render`, not this file.
# Run as root on l2: sh firewalld.sh
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

# Logstash monitoring API (read by hala check) only from the directors.
add 'rule family="ipv4" source address="192.0.2.1/32" destination address="192.0.2.12/32" port port="9700" protocol="tcp" accept'
add 'rule family="ipv4" source address="192.0.2.2/32" destination address="192.0.2.12/32" port port="9700" protocol="tcp" accept'

# Log ports of the services this host is a backend of, only from firewall.log_sources.
add 'rule family="ipv4" source address="192.0.2.0/24" destination address="192.0.2.12/32" port port="5514" protocol="udp" accept'
add 'rule family="ipv4" source address="192.0.2.0/24" destination address="192.0.2.12/32" port port="5044" protocol="tcp" accept'

firewall-cmd --reload
