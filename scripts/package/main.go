// Command package builds hala's .deb and .rpm with nFPM as a library:
// scripts/package -bin bin/hala -version v1.2.3 -out out/package
//
// It has its own go.mod so that nFPM's dependencies (git, ssh, PGP and
// compression libraries) stay out of the hala module. The man pages come
// from hala's command tree (pkg/cli, rendered here with cobra/doc, which
// the binary does not link), the completions from the binary itself (hala
// completion), the systemd unit from pkg/render. hala-director, which
// hala director executes, is taken from next to -bin.
package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers "deb"
	"github.com/goreleaser/nfpm/v2/files"
	_ "github.com/goreleaser/nfpm/v2/rpm" // registers "rpm"
	"github.com/spf13/cobra/doc"

	"github.com/hala-lb/hala/pkg/cli"
	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/render"
)

const (
	maintainer = "hala project <hala-lb@users.noreply.github.com>"
	homepage   = "https://github.com/hala-lb/hala"
)

func main() {
	bin := flag.String("bin", "bin/hala", "the hala `binary` to package (built with make build)")
	version := flag.String("version", "", "release `VERSION` (a git tag such as v1.2.3, or git describe output)")
	out := flag.String("out", "out/package", "output `DIR`")
	root := flag.String("root", ".", "the hala repository `DIR` (LICENSE, examples)")
	printVersion := flag.Bool("print-version", false, "print the package version of -version (or the argument) and exit")
	flag.Parse()
	if *printVersion {
		if flag.NArg() == 1 {
			*version = flag.Arg(0)
		}
		v, err := PackageVersion(*version)
		if err != nil {
			fmt.Fprintf(os.Stderr, "package: error: %v\n", err)
			os.Exit(1)
		}
		fmt.Println(v)
		return
	}
	if err := run(*bin, *version, *out, *root); err != nil {
		fmt.Fprintf(os.Stderr, "package: error: %v\n", err)
		os.Exit(1)
	}
}

// manPages writes hala's man pages (hala.1, hala-render.1, ...) into dir.
func manPages(dir, version string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create man directory: %w", err)
	}
	root := cli.Command()
	root.DisableAutoGenTag = true // reproducible pages: no generation date
	// No Title: each page gets its command's, HALA-DIRECTOR(1) for hala director.
	header := &doc.GenManHeader{Section: "1", Source: "hala " + version, Manual: "hala manual"}
	if err := doc.GenManTree(root, header, dir); err != nil {
		return fmt.Errorf("write man pages: %w", err)
	}
	return nil
}

// PackageVersion turns a git version into one dpkg and rpm both accept:
// v1.2.3 → 1.2.3, v1.2.3-4-gabc → 1.2.3+4.gabc, abc1234-dirty (no tag)
// → 0.0.0+gabc1234.dirty.
func PackageVersion(git string) (string, error) {
	v := strings.TrimPrefix(git, "v")
	if v == "" || v == "dev" {
		return "", fmt.Errorf("version %q: build from a git checkout (make package) or give -version", git)
	}
	if v[0] < '0' || v[0] > '9' || !regexp.MustCompile(`^[0-9]+(\.[0-9]+)*([-+.]|$)`).MatchString(v) {
		v = "0.0.0+g" + v
	} else if i := strings.IndexAny(v, "-"); i >= 0 {
		v = v[:i] + "+" + v[i+1:]
	}
	v = strings.ReplaceAll(v, "-", ".")
	if !regexp.MustCompile(`^[0-9][A-Za-z0-9.+]*$`).MatchString(v) {
		return "", fmt.Errorf("version %q: want a tag such as v1.2.3", git)
	}
	return v, nil
}

func run(bin, gitVersion, out, root string) error {
	version, err := PackageVersion(gitVersion)
	if err != nil {
		return err
	}
	stage, err := os.MkdirTemp("", "hala-package-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	info, err := packageInfo(bin, version, root, stage)
	if err != nil {
		return err
	}
	for _, p := range []struct{ format, name string }{
		{"deb", "hala_" + version + "_amd64.deb"},
		{"rpm", "hala-" + version + ".x86_64.rpm"},
	} {
		path := filepath.Join(out, p.name)
		if err := build(info, p.format, path); err != nil {
			return fmt.Errorf("build %s: %w", p.name, err)
		}
		fmt.Println("wrote", path)
	}
	return nil
}

func build(base nfpm.Info, format, path string) error {
	info := base
	info.Contents = append(files.Contents(nil), base.Contents...)
	pkgr, err := nfpm.Get(format)
	if err != nil {
		return err
	}
	if err := nfpm.PrepareForPackager(nfpm.WithDefaults(&info), format); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := pkgr.Package(&info, f); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// packageInfo stages the generated files under stage and describes the
// package.
func packageInfo(bin, version, root, stage string) (nfpm.Info, error) {
	// Reproducible: every file dated at SOURCE_DATE_EPOCH (make package
	// sets the commit's time), else now (lintian rejects 1970).
	mtime := time.Now().UTC().Truncate(time.Second)
	if epoch := os.Getenv("SOURCE_DATE_EPOCH"); epoch != "" {
		var sec int64
		if _, err := fmt.Sscan(epoch, &sec); err == nil {
			mtime = time.Unix(sec, 0).UTC()
		}
	}
	var contents files.Contents
	add := func(src, dst string, mode os.FileMode, typ, packager string) {
		contents = append(contents, &files.Content{
			Source: src, Destination: dst, Type: typ, Packager: packager,
			FileInfo: &files.ContentFileInfo{Owner: "root", Group: "root", Mode: mode, MTime: mtime},
		})
	}
	write := func(name string, data []byte) (string, error) {
		p := filepath.Join(stage, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		return p, os.WriteFile(p, data, 0o644)
	}
	gz := func(name string, data []byte) (string, error) {
		var b bytes.Buffer
		w, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
		if err != nil {
			return "", err
		}
		w.Write(data) // no name, no timestamp: reproducible, as lintian wants
		if err := w.Close(); err != nil {
			return "", err
		}
		return write(name+".gz", b.Bytes())
	}

	abs, err := filepath.Abs(bin)
	if err != nil {
		return nfpm.Info{}, err
	}
	// keepalived's script security: root-owned, not writable by others.
	add(abs, inventory.DefaultHalaPath, 0o755, "", "") // where cluster.hala_path defaults to
	// hala director executes hala-director from hala's directory.
	directorBin := filepath.Join(filepath.Dir(abs), "hala-director")
	if _, err := os.Stat(directorBin); err != nil {
		return nfpm.Info{}, fmt.Errorf("hala-director next to %s (make build builds both): %w", abs, err)
	}
	add(directorBin, filepath.Join(filepath.Dir(inventory.DefaultHalaPath), "hala-director"), 0o755, "", "")

	manDir := filepath.Join(stage, "man-src")
	if err := manPages(manDir, version); err != nil {
		return nfpm.Info{}, err
	}
	pages, err := filepath.Glob(filepath.Join(manDir, "*.1"))
	if err != nil || len(pages) == 0 {
		return nfpm.Info{}, fmt.Errorf("no man pages written in %s", manDir)
	}
	for _, p := range pages {
		data, err := os.ReadFile(p)
		if err != nil {
			return nfpm.Info{}, err
		}
		src, err := gz("man/"+filepath.Base(p), data)
		if err != nil {
			return nfpm.Info{}, err
		}
		add(src, "/usr/share/man/man1/"+filepath.Base(p)+".gz", 0o644, "", "")
	}

	for _, c := range []struct{ shell, deb, rpm string }{
		{"bash", "/usr/share/bash-completion/completions/hala", "/usr/share/bash-completion/completions/hala"},
		{"zsh", "/usr/share/zsh/vendor-completions/_hala", "/usr/share/zsh/site-functions/_hala"},
		{"fish", "/usr/share/fish/vendor_completions.d/hala.fish", "/usr/share/fish/vendor_completions.d/hala.fish"},
	} {
		data, err := exec.Command(abs, "completion", c.shell).Output()
		if err != nil {
			return nfpm.Info{}, fmt.Errorf("hala completion %s: %w", c.shell, err)
		}
		src, err := write("completion/"+c.shell, data)
		if err != nil {
			return nfpm.Info{}, err
		}
		add(src, c.deb, 0o644, "", "deb")
		add(src, c.rpm, 0o644, "", "rpm")
	}

	unit, err := render.DirectorUnit(inventory.DefaultHalaPath)
	if err != nil {
		return nfpm.Info{}, err
	}
	src, err := write("hala-director.service", unit)
	if err != nil {
		return nfpm.Info{}, err
	}
	// Debian 12 keeps units in /lib (usrmerge), RPM distributions in /usr/lib.
	add(src, "/lib/systemd/system/hala-director.service", 0o644, "", "deb")
	add(src, "/usr/lib/systemd/system/hala-director.service", 0o644, "", "rpm")

	if src, err = write("default", render.DirectorDefaults("")); err != nil {
		return nfpm.Info{}, err
	}
	add(src, "/etc/default/hala-director", 0o644, files.TypeConfigNoReplace, "")
	add(filepath.Join(root, "examples", "two-node.toml"), "/etc/hala/inventory.toml.example", 0o644, files.TypeConfigNoReplace, "")
	// The director example's alert rules and Grafana dashboard (hala
	// render writes a cluster's own into monitoring/).
	inv, err := inventory.Load(filepath.Join(root, "examples", "two-node-director.toml"))
	if err != nil {
		return nfpm.Info{}, err
	}
	rendered, err := render.All(inv)
	if err != nil {
		return nfpm.Info{}, err
	}
	for _, f := range rendered {
		if rest, ok := strings.CutPrefix(f.Path, render.MonitoringDir+"/"); ok {
			if src, err = write(f.Path, f.Data); err != nil {
				return nfpm.Info{}, err
			}
			add(src, "/usr/share/hala/monitoring/"+rest, 0o644, "", "")
		}
	}

	if src, err = write("copyright", []byte(fmt.Sprintf(copyright, mtime.Year()))); err != nil {
		return nfpm.Info{}, err
	}
	add(src, "/usr/share/doc/hala/copyright", 0o644, "", "deb")
	add(filepath.Join(root, "LICENSE"), "/usr/share/licenses/hala/LICENSE", 0o644, files.TypeRPMLicense, "rpm")
	// A version without a Debian revision is a native package, whose
	// changelog is changelog.gz.
	changelog := fmt.Sprintf("hala (%s) unstable; urgency=medium\n\n  * Release %s: see %s/releases.\n\n -- %s  %s\n",
		version, version, homepage, maintainer, mtime.Format("Mon, 02 Jan 2006 15:04:05 -0700"))
	if src, err = gz("changelog", []byte(changelog)); err != nil {
		return nfpm.Info{}, err
	}
	add(src, "/usr/share/doc/hala/changelog.gz", 0o644, "", "deb")
	if src, err = write("lintian-overrides", []byte(lintianOverrides)); err != nil {
		return nfpm.Info{}, err
	}
	add(src, "/usr/share/lintian/overrides/hala", 0o644, "", "deb")

	// hala-rolling-restart and its man page, from the script's own usage.
	rr := filepath.Join(root, "scripts", "rolling-restart")
	add(rr, "/usr/bin/hala-rolling-restart", 0o755, "", "")
	page, err := rollingRestartPage(rr, version, mtime)
	if err != nil {
		return nfpm.Info{}, err
	}
	if src, err = gz("man/hala-rolling-restart.1", page); err != nil {
		return nfpm.Info{}, err
	}
	add(src, "/usr/share/man/man1/hala-rolling-restart.1.gz", 0o644, "", "")

	// hala director cannot load ip_vs itself (ProtectKernelModules=yes):
	// systemd-modules-load does at boot.
	if src, err = write("modules-load", []byte("# hala director programs the kernel's IPVS: load it at boot.\nip_vs\n")); err != nil {
		return nfpm.Info{}, err
	}
	add(src, "/usr/lib/modules-load.d/hala.conf", 0o644, "", "")

	var scripts nfpm.Scripts
	for _, sc := range []struct {
		name, text string
		dst        *string
	}{
		{"postinst", postinstScript, &scripts.PostInstall},
		{"prerm", prermScript, &scripts.PreRemove},
		{"postrm", postrmScript, &scripts.PostRemove},
	} {
		if *sc.dst, err = write(sc.name, []byte(sc.text)); err != nil {
			return nfpm.Info{}, err
		}
	}
	return nfpm.Info{
		Name:          "hala",
		Arch:          "amd64",
		Platform:      "linux",
		Version:       version,
		VersionSchema: "none",
		Section:       "admin",
		Priority:      "optional",
		Maintainer:    maintainer,
		Vendor:        "hala",
		Homepage:      homepage,
		License:       "Apache-2.0",
		MTime:         mtime,
		Description: "highly available, load-balanced Logstash with keepalived and IPVS\n" +
			"hala renders keepalived.conf, sysctl and firewalld settings and the\n" +
			"Logstash inputs from one TOML inventory, checks Logstash inputs for\n" +
			"keepalived's MISC_CHECK, and can program the kernel's IPVS table\n" +
			"itself (hala director).",
		Overridables: nfpm.Overridables{
			Recommends: []string{"keepalived", "ipvsadm"},
			Contents:   contents,
			Scripts:    scripts,
			Deb:        nfpm.Deb{Compression: "xz"},
		},
	}, nil
}

// lintianOverrides explains each lintian finding left on the .deb.
// rollingRestartPage is hala-rolling-restart(1): the script's header
// comment and usage, as written.
func rollingRestartPage(script, version string, date time.Time) ([]byte, error) {
	src, err := os.ReadFile(script)
	if err != nil {
		return nil, err
	}
	var desc, usage []string
	in := &desc
	for _, l := range strings.Split(string(src), "\n")[1:] {
		if !strings.HasPrefix(l, "#") {
			break
		}
		l = strings.TrimPrefix(strings.TrimPrefix(l, "#"), " ")
		if strings.HasPrefix(l, "usage:") {
			in = &usage
		}
		// roff: a backslash is \e, a line may not start with . or '.
		l = strings.ReplaceAll(l, "\\", "\\e")
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			l = "\\&" + l
		}
		*in = append(*in, l)
	}
	if len(desc) == 0 || len(usage) == 0 {
		return nil, fmt.Errorf("%s: no header comment with a usage: line", script)
	}
	return []byte(fmt.Sprintf(`.TH "HALA-ROLLING-RESTART" "1" "%s" "hala %s" "hala manual"
.SH NAME
hala-rolling-restart \- restart every Logstash host of an inventory, one at a time, without losing messages
.SH DESCRIPTION
.nf
%s
.fi
.SH OPTIONS
.nf
%s
.fi
.SH SEE ALSO
\fBhala-drain\fP(1), \fBhala-undrain\fP(1)
`, date.Format("Jan 2006"), version, strings.Join(desc, "\n"), strings.Join(usage, "\n"))), nil
}

const lintianOverrides = `# hala is a Go program built with CGO_ENABLED=0: static by design, so
# keepalived's MISC_CHECK starts it without a dynamic loader and it runs
# unchanged on every supported distribution. hala-director is the same
# program with the director linked in (hala director executes it).
hala: statically-linked-binary [usr/bin/hala]
hala: statically-linked-binary [usr/bin/hala-director]
`

// The maintainer scripts do what Debian packages of daemons do, for deb
// and rpm alike: stop hala director on removal, try-restart it after an
// upgrade (only if it was running), remove /var/lib/hala on purge (deb
// only: rpm has no purge). The users stay: files elsewhere may be owned by
// them, and Debian policy allows leaving system users. The unit is not
// enabled on install: the director needs its --node in
// /etc/default/hala-director and an inventory first.
//
// systemctl is called through deb-systemd-invoke where it exists (Debian,
// as lintian asks), else directly (rpm distributions).

// postinstScript runs after install and upgrade (deb: "configure" [old
// version]; rpm: $1 = 1 install, 2 upgrade); every step checks first, so
// running it again changes nothing.
const postinstScript = `#!/bin/sh
set -e
case "$1" in
configure | 1 | 2) ;;
*) exit 0 ;;
esac

# keepalived runs MISC_CHECK programs (hala check) as this user under
# enable_script_security; hala director runs as user hala.
for user in keepalived_script hala; do
	if ! getent passwd "$user" >/dev/null; then
		useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$user"
	fi
done

# State (IPVS ownership records) and drain records: written by root and
# hala director, read by hala check running as keepalived_script.
install -d -m 0755 -o root -g root /var/lib/hala
install -d -m 0755 -o root -g root /var/lib/hala/drain

# What /usr/lib/modules-load.d/hala.conf does at boot, now (a kernel
# without the module is reported by hala director when it starts).
modprobe ip_vs >/dev/null 2>&1 || true

if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
	# A deb upgrade ($2: the old version): the running director gets the
	# new binary. rpm restarts in %postun, after the old files are gone.
	if [ "$1" = configure ] && [ -n "$2" ]; then
		if command -v deb-systemd-invoke >/dev/null 2>&1; then
			deb-systemd-invoke try-restart hala-director.service || true
		else
			set -- try-restart hala-director.service
			"systemctl" "$@" || true
		fi
	fi
fi
exit 0
`

// prermScript runs before removal (deb: "remove", "upgrade" …; rpm: $1 =
// 0 erase, 1 upgrade): hala director stops only when hala goes away.
const prermScript = `#!/bin/sh
set -e
case "$1" in
remove | deconfigure | 0) ;;
*) exit 0 ;;
esac
if [ -d /run/systemd/system ]; then
	if command -v deb-systemd-invoke >/dev/null 2>&1; then
		deb-systemd-invoke stop hala-director.service || true
	else
		set -- stop hala-director.service
		"systemctl" "$@" || true
	fi
fi
exit 0
`

// postrmScript runs after removal (deb: "remove", "purge", "upgrade" …;
// rpm: $1 = 0 erase, 1 upgrade).
const postrmScript = `#!/bin/sh
set -e
case "$1" in
remove | 0)
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload >/dev/null 2>&1 || true
	fi
	;;
1)
	# rpm upgrade: the new files are in place, restart a running director.
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload >/dev/null 2>&1 || true
		set -- try-restart hala-director.service
		"systemctl" "$@" || true
	fi
	;;
purge)
	# State: IPVS ownership records, check state, drain records.
	rm -rf /var/lib/hala
	rm -f /etc/systemd/system/multi-user.target.wants/hala-director.service
	rmdir /etc/hala 2>/dev/null || true
	echo "hala: purged /var/lib/hala; the system users hala and keepalived_script stay (files elsewhere may be theirs): userdel them if unused"
	;;
esac
exit 0
`

const copyright = `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: hala
Source: https://github.com/hala-lb/hala

Files: *
Copyright: %d hala contributors
License: Apache-2.0

License: Apache-2.0
 Licensed under the Apache License, Version 2.0 (the "License");
 you may not use this file except in compliance with the License.
 You may obtain a copy of the License at
 .
 http://www.apache.org/licenses/LICENSE-2.0
 .
 Unless required by applicable law or agreed to in writing, software
 distributed under the License is distributed on an "AS IS" BASIS,
 WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 See the License for the specific language governing permissions and
 limitations under the License.
 .
 On Debian systems, the complete text of the Apache License, Version 2.0
 can be found in "/usr/share/common-licenses/Apache-2.0".
`
