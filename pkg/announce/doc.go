// Package announce is hala director's BGP speaker: an embedded GoBGP
// server that peers with the routers of [[bgp.peer]] (optionally with TCP
// MD5 and BFD) and announces or withdraws each VIP as a host route (/32 or
// /128) with the director's own address as next hop.
//
// It is the only hala package that imports GoBGP, and only pkg/director
// imports it, so that the BGP code stays off the path of every other
// command (hala check runs once per backend and input every few seconds).
// It decides nothing: the director says when to announce and withdraw.
package announce
