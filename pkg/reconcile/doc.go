// Package reconcile converges the kernel's IPVS table on the inventory.
//
// The model has three steps, and plan and apply share the first two:
//
//  1. Desired(inv, node) turns the inventory into a Table. It reads nothing
//     but the inventory (never the kernel), so the same file gives the same
//     table on every machine.
//  2. Diff(desired, observed, owned, prune) compares it with the Table read
//     from the kernel (Observe) and returns a Plan: a sorted list of Changes,
//     each an Add, Update or Delete of one service or destination, with the
//     fields that differ. Only kernel fields are compared (scheduler, flags,
//     persistence timeout and netmask, forwarding method, weight,
//     thresholds), never counters. Anything that can be updated in place is
//     an Update, never a Delete and an Add.
//  3. Apply(ctx, plan, target, progress) executes exactly the plan, one
//     kernel request per Change, pipelined through Target.Batch, and stops
//     after the first failed batch, returning an *ApplyError that says what
//     was applied, what failed (also the changes of the failed batch after
//     the first failure) and what was not attempted. Applying again
//     converges.
//
// Run is the one path through these steps, for hala ipvs plan and apply
// and for a resident director alike: Desired, then Options.Adjust (the
// director's health verdicts), the state file and Observe, Diff, the
// refusal of an unconfirmed adoption (*AdoptError), then Execute unless
// Options.DryRun. Its Result holds the plan, what was applied and, after a
// refused change, the *ApplyError; Result.WriteText prints apply's report.
//
// Target is the two calls the kernel path makes: Entries reads the whole
// table in one call (Observe) and Batch makes a list of changes (Apply).
// *ipvs.Handle satisfies it.
//
// Ownership: hala touches only services it owns. A service is owned when it
// is in the inventory, or when it is recorded in the state file (see
// LoadOwned, DefaultStatePath): every service hala has managed is recorded
// there, so that prune can later delete the ones removed from the
// inventory. Every other service is foreign (kube-proxy's, docker's, a
// hand-made one): neither it nor its destinations is ever changed. Without
// prune, owned services missing from the inventory are kept and reported.
//
// Order: mh and sh build their lookup table from the order of the
// destination list, and the kernel puts an added destination at the
// head. For those schedulers (Ordered) Diff keeps one canonical order,
// destinations added in ascending address:port order: it reads the
// kernel's order as Observe listed it, keeps the destinations already in
// place, and re-adds every one from the first out of place up, each
// deleted just before its re-add (Change.Reorder). Entry.TableWeight
// makes a destination wanted at weight 0 enter mh's table as on a
// director that saw it healthy. pkg/director's doc.go has the design.
//
// Nothing here keeps global state or exits: Run, Prepare and Execute can be
// called over and over from a long-running process, and every kernel call
// takes a context.
//
// reconcile imports pkg/inventory and pkg/ipvs; it reaches the kernel only
// through the Target interface, which *ipvs.Handle satisfies and tests fake.
package reconcile
