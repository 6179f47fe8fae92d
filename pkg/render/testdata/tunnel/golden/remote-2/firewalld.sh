#!/bin/sh
# firewalld rules for remote-2 of cluster tun.
# Rendered by hala: edit the inventory and run `hala render`, not this file.
# Run as root on remote-2: sh firewalld.sh
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
add 'rule family="ipv4" source address="172.16.0.1/32" destination address="172.17.5.2/32" port port="9600" protocol="tcp" accept'
add 'rule family="ipv4" source address="172.16.0.2/32" destination address="172.17.5.2/32" port port="9600" protocol="tcp" accept'

# IP-in-IP (IP protocol 4) from the directors, which tunnel TUN services' packets to this host.
add 'rule family="ipv4" source address="172.16.0.1/32" protocol value="4" accept'
add 'rule family="ipv4" source address="172.16.0.2/32" protocol value="4" accept'

# Log ports of the services this host is a backend of, only from firewall.log_sources.
add 'rule family="ipv4" source address="172.20.0.0/14" destination address="172.16.0.50/32" port port="514" protocol="udp" accept'

firewall-cmd --reload
