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
// It imports check, reconcile, ipvs, logstash, drain and inventory, never cli.
package director
