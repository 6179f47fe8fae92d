#!/bin/sh
# firewalld rules for lb3 of cluster stash.
# Rendered by hala: edit the inventory and run `hala render`, not this file.
# Run as root on lb3: sh firewalld.sh
# Idempotent: a rule is added only when --query-rich-rule does not find it.
# Converges: the rules this script added are recorded in $state; a recorded
# rule the inventory no longer wants is removed, and so are the rules
# recorded for a zone it used before (firewall.zone changed). Rules hala
# did not add (present before, or added by hand) are never touched.
set -eu
zone='public'
if [ -n "${HALA_FIREWALLD_STATE:-}" ]; then
	echo "firewalld.sh: HALA_FIREWALLD_STATE is no longer read: set HALA_FIREWALLD_STATE_DIR (records are DIR/firewalld-<zone>.rules)" >&2
	exit 1
fi
statedir=${HALA_FIREWALLD_STATE_DIR:-/var/lib/hala}
state=$statedir/firewalld-$zone.rules

tmp=$(mktemp -d)
# managed: the rules hala added and still manages; saved to $state on any
# exit, so a failed run still remembers what it added.
touch "$tmp/wanted" "$tmp/managed"
if [ -f "$state" ]; then
	cat "$state" >"$tmp/managed"
fi
cp "$tmp/managed" "$tmp/recorded"
save() {
	if ! cmp -s "$tmp/managed" "$tmp/recorded"; then
		mkdir -p "$(dirname "$state")"
		cp "$tmp/managed" "$state.tmp.$$"
		mv -f "$state.tmp.$$" "$state"
	fi
	rm -rf "$tmp"
}
trap save EXIT
trap 'exit 1' HUP INT TERM

add() {
	printf '%s\n' "$1" >>"$tmp/wanted"
	if firewall-cmd --permanent --zone="$zone" --query-rich-rule="$1" >/dev/null 2>&1; then
		echo "present: $1"
	else
		firewall-cmd --permanent --zone="$zone" --add-rich-rule="$1" >/dev/null
		if ! grep -Fxq -e "$1" "$tmp/managed"; then
			printf '%s\n' "$1" >>"$tmp/managed"
		fi
		echo "added:   $1"
	fi
}

# prune removes the rules hala added before that are no longer wanted.
prune() {
	grep -Fxv -f "$tmp/wanted" "$tmp/managed" >"$tmp/stale" || true
	while IFS= read -r rule; do
		[ -n "$rule" ] || continue
		if firewall-cmd --permanent --zone="$zone" --query-rich-rule="$rule" >/dev/null 2>&1; then
			firewall-cmd --permanent --zone="$zone" --remove-rich-rule="$rule" >/dev/null
			echo "removed: $rule"
		fi
		grep -Fxv -e "$rule" "$tmp/managed" >"$tmp/managed.new" || true
		mv -f "$tmp/managed.new" "$tmp/managed"
	done <"$tmp/stale"
}

# leave_old_zones removes the rules recorded for other zones (zones this
# host used before) from those zones, then their records. A record is
# deleted only once all its rules are gone, so a failed run retries.
leave_old_zones() {
	for old in "$statedir"/firewalld-*.rules; do
		[ -f "$old" ] && [ "$old" != "$state" ] || continue
		oldzone=${old#"$statedir"/firewalld-}
		oldzone=${oldzone%.rules}
		case $oldzone in
		'' | *[!A-Za-z0-9_-]*) continue ;; # not a record of ours
		esac
		while IFS= read -r rule; do
			[ -n "$rule" ] || continue
			if firewall-cmd --permanent --zone="$oldzone" --query-rich-rule="$rule" >/dev/null 2>&1; then
				firewall-cmd --permanent --zone="$oldzone" --remove-rich-rule="$rule" >/dev/null
				echo "removed from zone $oldzone: $rule"
			fi
		done <"$old"
		rm -f "$old"
	done
}

# BGP (TCP 179) and BFD (UDP 3784 single-hop, 4784 multi-hop) from the [[bgp.peer]] routers only.
add 'rule family="ipv4" source address="192.168.1.1/32" destination address="192.168.1.213/32" port port="179" protocol="tcp" accept'
add 'rule family="ipv4" source address="192.168.1.1/32" destination address="192.168.1.213/32" port port="3784" protocol="udp" accept'
add 'rule family="ipv4" source address="192.168.1.1/32" destination address="192.168.1.213/32" port port="4784" protocol="udp" accept'

# Log ports on the VIPs (every director holds them on hala0), only from firewall.log_sources.
add 'rule family="ipv4" source address="192.168.0.0/16" destination address="10.99.0.10/32" port port="5140" protocol="tcp" accept'
add 'rule family="ipv4" source address="192.168.0.0/16" destination address="10.99.0.10/32" port port="5514" protocol="udp" accept'

prune
leave_old_zones
firewall-cmd --reload
