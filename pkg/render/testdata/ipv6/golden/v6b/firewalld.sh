#!/bin/sh
# firewalld rules for v6b of cluster v6.
# Rendered by hala: edit the inventory and run `hala render`, not this file.
# Run as root on v6b: sh firewalld.sh
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
add 'rule family="ipv6" source address="2001:db8::1/128" protocol value="vrrp" accept'

# Log ports on the VIPs (any director may hold them), only from firewall.log_sources.
add 'rule family="ipv6" source address="2001:db8:1::/48" destination address="2001:db8::100/128" port port="5514" protocol="udp" accept'

# Logstash monitoring API (read by hala check) only from the directors.
add 'rule family="ipv6" source address="2001:db8::1/128" destination address="2001:db8::2/128" port port="9600" protocol="tcp" accept'

# Log ports of the services this host is a backend of, only from firewall.log_sources.
add 'rule family="ipv6" source address="2001:db8:1::/48" destination address="2001:db8::2/128" port port="5514" protocol="udp" accept'

firewall-cmd --reload
