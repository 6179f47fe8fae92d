package testutil

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// LetOthersIn makes dir and each of its parents below the temporary
// directory searchable by every user (t.TempDir makes them 0700), as
// hala drain requires of the directories down to its records: hala check
// and hala director read them as other users.
func LetOthersIn(t testing.TB, dir string) {
	t.Helper()
	tmp := filepath.Clean(os.TempDir()) + string(filepath.Separator)
	for d := filepath.Clean(dir); strings.HasPrefix(d, tmp); d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, fi.Mode().Perm()|0o055); err != nil {
			t.Fatal(err)
		}
	}
}
