// Package templates holds the text/template files pkg/render executes:
// keepalived.conf, sysctl, setup and firewalld scripts, and the Logstash
// input and API settings. They live here, next to the repository root,
// because //go:embed cannot reach parent directories. Templates receive
// values already quoted for their target syntax by pkg/render; they import
// no hala package.
package templates
