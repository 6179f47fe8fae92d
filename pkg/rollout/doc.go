// Package rollout waits until traffic has moved: off a drained backend in
// a director's IPVS table (WaitDirector), out of the backend's own inputs
// and UDP socket queues on its host (WaitBackendHost, WaitInputs), back
// onto it after hala undrain (WaitBack), and until it passes hala check
// again after its restart (WaitReady). hala drain --wait, hala undrain
// --wait and scripts/rolling-restart use it.
//
// It writes nothing: drain records are pkg/drain's. Every wait reads its
// clock through WaitOptions, so tests step a fake one.
//
// It imports check, logstash, inventory and reconcile; nothing imports it
// but pkg/cli.
package rollout
