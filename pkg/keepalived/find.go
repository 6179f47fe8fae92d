package keepalived

// All returns the statements called name among nodes, in order.
func All(nodes []*Node, name string) []*Node {
	var out []*Node
	for _, n := range nodes {
		if n.Name == name {
			out = append(out, n)
		}
	}
	return out
}

// First returns the first statement called name among nodes, or nil.
func First(nodes []*Node, name string) *Node {
	for _, n := range nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}
