// Package director is hala director: a resident IPVS director that checks
// every backend in-process several times a second and turns each verdict
// change into single netlink writes, while keepalived keeps VRRP alone.
//
// The model, in one loop that owns all state:
//
//   - One prober per Logstash host asks its monitoring API once per
//     interval, on the narrowest endpoint that covers every input this
//     director needs from it, and computes every input's verdict from that
//     one body with pkg/check, the code behind hala check. The probers
//     fire on a grid of 200ms slots, so the process wakes a few times per
//     interval rather than once per backend.
//
//   - Each backend × input has a rise/fall counter (health). A change of
//     state becomes, for every service using that input, the one request
//     that moves its destination (add, delete, or weight 0 to quiesce TCP).
//
//   - Every reconcile interval, and on reload, the whole desired table,
//     with the verdicts applied, goes through reconcile's plan/apply path,
//     exactly as hala ipvs apply does: drift is repaired, foreign services
//     are never touched.
//
//   - Every round also reads the backend's drain record (pkg/drain): a
//     drained backend leaves its UDP services and sits at weight 0 in TCP
//     ones from that round on. With weights = "load" the verdicts carry
//     load weights (pkg/check, state in memory), and a weight change is
//     one update request.
//
// # Same flow, same backend, on every director (scheduler = "mh")
//
// With cluster.ha = "bgp" the router spreads a TCP connection's packets
// over the directors by ECMP, and moves some connections to other
// directors whenever one dies or joins. The director that gets a
// connection mid-flow has no IPVS entry for it: net.ipv4.vs.sloppy_tcp
// lets it create one from any packet, and it must then pick the backend
// that holds the connection, or the backend answers with a reset. So
// every director must pick the same backend for the same flow, whatever
// its own history. That is what mh (Maglev hashing, kernel 4.18+) does,
// given the same input on every director. What the input is, from the
// kernel's net/netfilter/ipvs/ip_vs_mh.c and ip_vs_ctl.c:
//
//   - The lookup table (4093 slots by default) is rebuilt from the
//     service's destination list on every add, update and delete of a
//     destination. Each destination's preference order over the slots
//     comes from a hash of its address and port with fixed keys (the same
//     on every machine). The table is filled in rounds: in each round the
//     destinations, in list order, claim their next preferred free slot,
//     each as many times as its weight ÷ the gcd of all weights (shifted
//     down when large); a contested slot goes to the one earlier in the
//     list. So the table depends on the list order, not only on the set.
//   - The list order is history: an added destination goes to the head
//     (list_add_rcu), a deleted one leaves, and a re-added one comes back
//     at the head. Two directors that added the same destinations in
//     another order, or saw a backend fail and come back, have different
//     tables.
//   - The table counts each destination's last_weight: the weight it was
//     added with, then the last non-zero weight it was set to. A weight of
//     0 leaves the table alone; a lookup that lands on a destination at
//     weight 0 is dropped, or, with the mh-fallback flag, rehashed to the
//     next slot whose destination has a weight (the same slots on every
//     director). A destination added at weight 0 is not in the table.
//   - A flow is hashed on its source address, plus its source port with
//     the mh-port flag (the sum of the two is hashed), with the same fixed
//     key on every machine.
//
// hala therefore keeps that input equal on every director:
//
//   - Membership is the inventory's, never health: on an mh service with
//     on_failure = "quiesce" (the default for TCP with mh; "remove" is
//     refused under ha = "bgp") a failed, drained or not yet risen backend
//     stays in the list at weight 0, and a transition is one weight
//     update. mh-fallback (mh_fallback, default true) sends only that
//     backend's flows elsewhere, the same way on every director; the
//     others' connections are untouched. A backend to be put in the list
//     at weight 0 is added at the service's weight and set to 0 in the
//     same batch, so that its last_weight, and with it the table, is the
//     one a director that saw it healthy has. (For that one request it can
//     take a new connection.)
//   - One canonical list order: destinations added in ascending
//     address:port order, which the kernel lists from the highest down
//     (reconcile.Ordered, for mh and sh). A reload that adds a backend
//     above every other is one add; one that adds it below others
//     re-adds those above it, each deleted just before its re-add in one
//     netlink batch, so its connections are without a destination for
//     one request (the kernel keeps a deleted destination, and its
//     connections, in its trash and takes it back on the re-add; with
//     expire_nodest_conn = 1 it expires them only after a jiffy). The
//     transition path never adds to such a service: an add goes through
//     the plan/apply path, which places it.
//   - Drift repair compares the kernel's order (read as listed) with the
//     canonical one and re-adds from the first destination out of place:
//     a hand-made ipvsadm -a, another tool, or an older hala is repaired
//     within one reconcile interval.
//   - How much each rule protects: Maglev tables are robust to order (two
//     orders of four destinations differ in a few of the 4093 slots), so
//     the canonical order saves a fraction of a percent of the moved
//     connections; a destination missing from the table (removed, or added
//     at weight 0) moves its whole share.
//   - Weights are static: weights = "load" with mh is refused, because
//     weights that follow each director's own checks would give every
//     director its own table. Same-flow-same-backend still needs the
//     directors to agree on which backends are at weight 0: they check
//     the same APIs at the same interval, and the rows of the e2e table
//     bound what a disagreement costs.
//
// It imports check, reconcile, ipvs, logstash, drain and inventory, never cli.
package director
