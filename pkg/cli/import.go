package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/hala-lb/hala/pkg/importer"
	"github.com/hala-lb/hala/pkg/keepalived"
	"github.com/hala-lb/hala/pkg/render"
)

type importFlags struct {
	logstashPort int
	out          string
	directors    []string
}

func newImportCommand(streams IOStreams) *cobra.Command {
	flags := &importFlags{}
	cmd := &cobra.Command{
		Use:   "import [flags] KEEPALIVED_CONF",
		Short: "Write an inventory from an existing keepalived.conf",
		Long: `Import reads a keepalived.conf (and the files it includes) and writes the
inventory that renders an equivalent one: the same VIPs, VRRP router ids,
virtual servers, real servers and checks.

Each vrrp_instance keeps its own interface, advert_int, authentication and
VRRP version (on its [[vip]] where instances differ), so a director
switched to hala speaks VRRP as its not-yet-switched peer does. What would
change VRRP anyway (auth_type AH, version 2 where hala needs 3, another
multicast group, unicast beside multicast, different unicast peers)
refuses the import, naming each instance by file:line.

It recognises MISC_CHECKs that run hala check or inputstatus.py; every
part it cannot map is written into the inventory as a comment with its
file:line and the reason, and listed on stderr (also when the import is
refused). Directors come from unicast_src_ip and unicast_peer; a multicast
configuration names no director addresses, so give them with --director
NAME=ADDR, or fill in the placeholder that hala validate rejects. A
virtual_server no vrrp_instance covers (an LVS-only file) gets a VIP with a
router_id placeholder, and one whose real servers' checker names no
Logstash input (TCP_CHECK, HTTP_GET, …) an input_id placeholder, the
checker kept as a comment.

The files read are bounded to 4 MiB together; kernel files (/proc, /sys)
are refused. --out-file never replaces a file, and its directory must exist.
See docs/migration.md.`,
		Example: `  hala import /etc/keepalived/keepalived.conf
  hala import --director stash1=192.168.1.210 --director stash2=192.168.1.220 \
      --out-file cluster.toml /etc/keepalived/keepalived.conf`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("out") {
				fmt.Fprintln(streams.ErrOut, "hala: warning: -o FILE is deprecated: use --out-file FILE (-o is an output format in other commands)")
			}
			return runImport(streams, flags, args[0])
		},
	}
	cmd.Flags().IntVar(&flags.logstashPort, "logstash-port", 9600, "Logstash API `PORT` of hosts whose check names none")
	cmd.Flags().StringVar(&flags.out, "out-file", "", "write the inventory to `FILE` (mode 0600; default stdout)")
	// The old -o, hidden, with a warning, for one release.
	cmd.Flags().StringVarP(&flags.out, "out", "o", "", "old spelling of --out-file `FILE`")
	_ = cmd.Flags().MarkHidden("out")
	cmd.Flags().StringArrayVar(&flags.directors, "director", nil, "a director as `NAME=ADDR` (repeat for each)")
	return cmd
}

func runImport(streams IOStreams, flags *importFlags, path string) error {
	if flags.logstashPort < 1 || flags.logstashPort > 65535 {
		return fmt.Errorf("--logstash-port %d is out of range 1-65535", flags.logstashPort)
	}
	opts := importer.Options{LogstashPort: flags.logstashPort}
	for _, d := range flags.directors {
		dir, err := importer.ParseDirector(d)
		if err != nil {
			return withHint(err, "--director stash1=192.168.1.210")
		}
		opts.Directors = append(opts.Directors, dir)
	}
	if flags.out != "" {
		if _, err := os.Lstat(flags.out); !errors.Is(err, fs.ErrNotExist) {
			return withHint(fmt.Errorf("write %s: it exists", flags.out), "import never replaces an inventory: remove it or choose another --out-file")
		}
		// A mistyped directory is an error, not a new 0755 directory.
		if dir := filepath.Dir(flags.out); !isDir(dir) {
			return withHint(fmt.Errorf("write %s: directory %s does not exist", flags.out, dir), "create it first, or choose another -o")
		}
	}
	cfg, err := keepalived.Load(path)
	if err != nil {
		return err
	}
	res, err := importer.Import(cfg, path, opts)
	if res != nil {
		// Every note, also when the import is refused: the operator fixes
		// the file once, not once per run.
		for _, n := range res.Unmapped {
			fmt.Fprintf(streams.ErrOut, "hala: warning: not mapped: %s\n", n)
		}
	}
	if err != nil {
		return err
	}
	if flags.out == "" {
		if _, err := streams.Out.Write(res.TOML); err != nil {
			return err
		}
		if res.Secret {
			warnReadableSecret(streams)
		}
	} else {
		abs, err := filepath.Abs(flags.out)
		if err != nil {
			return err
		}
		if _, err := render.Write(filepath.Dir(abs), []render.File{{Path: filepath.Base(abs), Data: res.TOML, Mode: 0o600}}); err != nil {
			return fmt.Errorf("write inventory: %w", err)
		}
		fmt.Fprintf(streams.ErrOut, "wrote %s\n", flags.out)
	}
	switch {
	case res.DirectorPlaceholders:
		fmt.Fprintf(streams.ErrOut, "hala: hint: %s names no director address: set the placeholder addresses, or import again with --director NAME=ADDR for each director; then set the other values marked PLACEHOLDER\n", path)
	case res.Placeholders > 0:
		fmt.Fprintf(streams.ErrOut, "hala: hint: %d values %s does not say are marked PLACEHOLDER: set each (hala validate names them)\n", res.Placeholders, path)
	}
	return nil
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// warnReadableSecret warns when the inventory, which holds a VRRP
// password, went to a file others may read ("hala import … > x.toml"
// creates it with the umask's mode; -o writes 0600).
func warnReadableSecret(streams IOStreams) {
	f, ok := streams.Out.(*os.File)
	if !ok {
		return
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o077 == 0 {
		return
	}
	fmt.Fprintf(streams.ErrOut, "hala: warning: the inventory holds vrrp_auth_pass and stdout is a file of mode %04o: others may read the password; use -o FILE (mode 0600) or chmod 600 it\n", fi.Mode().Perm())
}
