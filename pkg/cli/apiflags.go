package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/hala-lb/hala/pkg/logstash"
)

// apiFlags are the monitoring API flags hala check and hala diagnose
// share: the same names, help and checks, and one way to a client config.
type apiFlags struct {
	port     int
	scheme   string
	caFile   string
	insecure bool
	authFile string
	maxBody  int64
}

// minMaxBody is the smallest --max-body: below it not even a 5.x node's
// stats for one input fit.
const minMaxBody = 1 << 10

// addPort registers --port; addTLS --scheme, --ca, --insecure and
// --auth-file; addMaxBody --max-body (apart, so that each command keeps
// its help in the order it reads best).
func (a *apiFlags) addPort(cmd *cobra.Command) {
	cmd.Flags().IntVar(&a.port, "port", logstash.DefaultPort, "`PORT` of the monitoring API")
}

func (a *apiFlags) addTLS(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&a.scheme, "scheme", "http", "`SCHEME` of the API: http or https")
	fl.StringVar(&a.caFile, "ca", "", "PEM CA bundle `FILE` that verifies the API's certificate (https)")
	fl.BoolVar(&a.insecure, "insecure", false, "do not verify the API's TLS certificate")
	fl.StringVar(&a.authFile, "auth-file", "", "`FILE` holding \"user:password\" for basic auth, mode 0600 (or $"+logstash.AuthFileEnv+")")
	_ = cmd.RegisterFlagCompletionFunc("scheme", cobra.FixedCompletions([]string{"http", "https"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.MarkFlagFilename("ca")
	_ = cmd.MarkFlagFilename("auth-file")
}

func (a *apiFlags) addMaxBody(cmd *cobra.Command) {
	cmd.Flags().Int64Var(&a.maxBody, "max-body", logstash.DefaultMaxBody, "largest response body accepted, in `BYTES` (at least 1024)")
}

// resolve takes the auth file from $HALA_API_AUTH_FILE when --auth-file is
// not given, then checks the values.
func (a *apiFlags) resolve() error {
	if a.authFile == "" {
		a.authFile = os.Getenv(logstash.AuthFileEnv)
	}
	switch {
	case a.port < 1 || a.port > 65535:
		return fmt.Errorf("--port %d: out of range 1-65535", a.port)
	case a.scheme != "http" && a.scheme != "https":
		return withHint(fmt.Errorf("--scheme %q: want http or https", a.scheme), "the Logstash API speaks https when api.ssl.enabled is true, else http")
	case a.maxBody < minMaxBody:
		return fmt.Errorf("--max-body %d: must be at least %d (1 KiB)", a.maxBody, minMaxBody)
	}
	return nil
}

// config is the client configuration for host, the credentials read from
// the auth file.
func (a *apiFlags) config(host string) (logstash.Config, error) {
	cfg := logstash.Config{Host: host, Port: a.port, Scheme: a.scheme, CAFile: a.caFile, Insecure: a.insecure, MaxBody: a.maxBody}
	if a.authFile != "" {
		creds, err := logstash.ReadAuthFile(a.authFile)
		if err != nil {
			return logstash.Config{}, err
		}
		cfg.Credentials = creds
	}
	return cfg, nil
}
