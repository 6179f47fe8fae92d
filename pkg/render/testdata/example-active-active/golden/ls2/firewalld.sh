#!/bin/sh
# firewalld rules for ls2 of cluster logs-prod.
# Rendered by hala: edit the inventory and run `hala render`, not this file.
# Run as root on ls2: sh firewalld.sh
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

# Logstash monitoring API (read by hala check) only from the directors.
add 'rule family="ipv4" source address="10.20.0.11/32" destination address="10.20.0.22/32" port port="9600" protocol="tcp" accept'
add 'rule family="ipv4" source address="10.20.0.12/32" destination address="10.20.0.22/32" port port="9600" protocol="tcp" accept'
add 'rule family="ipv4" source address="10.20.0.13/32" destination address="10.20.0.22/32" port port="9600" protocol="tcp" accept'

# Log ports of the services this host is a backend of, only from firewall.log_sources.
add 'rule family="ipv4" source address="10.30.0.0/16" destination address="10.20.0.22/32" port port="5514" protocol="udp" accept'
add 'rule family="ipv4" source address="10.40.1.15/32" destination address="10.20.0.22/32" port port="5514" protocol="udp" accept'
add 'rule family="ipv4" source address="10.30.0.0/16" destination address="10.20.0.22/32" port port="5515" protocol="udp" accept'
add 'rule family="ipv4" source address="10.40.1.15/32" destination address="10.20.0.22/32" port port="5515" protocol="udp" accept'
add 'rule family="ipv4" source address="10.30.0.0/16" destination address="10.20.0.22/32" port port="6514" protocol="tcp" accept'
add 'rule family="ipv4" source address="10.40.1.15/32" destination address="10.20.0.22/32" port port="6514" protocol="tcp" accept'

firewall-cmd --reload
