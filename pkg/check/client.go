package check

import (
	"fmt"

	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/logstash"
)

// APIConfig is the monitoring API client configuration for the Logstash
// at host:port with the inventory's api_scheme, api_ca and credentials
// (api_auth_file, read now): what hala director, hala status and hala
// drain ask each [[logstash]] host with. A bad auth file is an error
// naming the inventory and the key.
func APIConfig(inv *inventory.Inventory, host string, port int) (logstash.Config, error) {
	c := inv.Cluster
	cfg := logstash.Config{Host: host, Port: port, Scheme: c.APIScheme, CAFile: c.APICA}
	if c.APIAuthFile != "" {
		creds, err := logstash.ReadAuthFile(c.APIAuthFile)
		if err != nil {
			return logstash.Config{}, fmt.Errorf("%s: cluster.api_auth_file: %w", inv.File, err)
		}
		cfg.Credentials = creds
	}
	return cfg, nil
}
