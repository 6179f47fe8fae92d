package docs

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/internal/testutil"
	"github.com/hala-lb/hala/pkg/inventory"
)

func root(t *testing.T) string {
	t.Helper()
	r, err := testutil.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// markdown returns README.md and every docs/*.md, relative to the root.
func markdown(t *testing.T, r string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(r, "docs", "*.md"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no docs/*.md under %s (%v)", r, err)
	}
	return append([]string{filepath.Join(r, "README.md")}, files...)
}

// link is a Markdown inline link's target: [text](target).
var link = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// fences are fenced code blocks, whose brackets are not links.
var fences = regexp.MustCompile("(?s)```.*?```")

// TestLinksResolve: every relative link in README.md and docs/*.md names
// a file or directory of the repository.
func TestLinksResolve(t *testing.T) {
	r := root(t)
	checked := 0
	for _, f := range markdown(t, r) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text := fences.ReplaceAllString(string(data), "")
		for _, m := range link.FindAllStringSubmatch(text, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "#") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			target, _, _ = strings.Cut(target, "#")
			p := filepath.Join(filepath.Dir(f), filepath.FromSlash(target))
			if _, err := os.Stat(p); err != nil {
				rel, _ := filepath.Rel(r, f)
				t.Errorf("%s links to %s, which does not exist", rel, m[1])
			}
			checked++
		}
	}
	if checked < 10 {
		t.Errorf("only %d relative links found: the pattern is wrong", checked)
	}
}

// TestInventoryKeysDocumented: every key the inventory accepts (a toml
// tag of inventory.Inventory's tables) is in docs/inventory.md, as
// `table.key`, or in the row of its array of tables (`[[table]]` `key`);
// a table whose row links to a page of its own (`[monitoring]`, see
// monitoring.md) may be documented there, as `table.key`.
func TestInventoryKeysDocumented(t *testing.T) {
	dir := filepath.Join(root(t), "docs")
	data, err := os.ReadFile(filepath.Join(dir, "inventory.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	rows := strings.Split(doc, "\n")
	pageLink := regexp.MustCompile(`^\| ` + "`" + `\[([a-z_]+)\]` + "`" + ` \|.*\]\(([a-z-]+\.md)\)`)
	pages := map[string]string{} // table → the text of its own page
	for _, row := range rows {
		if m := pageLink.FindStringSubmatch(row); m != nil {
			page, err := os.ReadFile(filepath.Join(dir, m[2]))
			if err != nil {
				t.Fatalf("docs/inventory.md: [%s] links to %s: %v", m[1], m[2], err)
			}
			pages[m[1]] = string(page)
		}
	}
	documented := func(table, key string) bool {
		if strings.Contains(doc, "`"+table+"."+key+"`") || strings.Contains(pages[table], "`"+table+"."+key+"`") {
			return true
		}
		for _, row := range rows {
			if strings.HasPrefix(row, "| `[["+table+"]]`") || strings.HasPrefix(row, "| `["+table+"]`") {
				head, _, _ := strings.Cut(strings.TrimPrefix(row, "|"), "|")
				if strings.Contains(head, "`"+key+"`") {
					return true
				}
			}
		}
		return false
	}
	keys := 0
	inv := reflect.TypeFor[inventory.Inventory]()
	for i := range inv.NumField() {
		tf := inv.Field(i)
		table := tagName(tf)
		if table == "" {
			continue
		}
		typ := tf.Type
		if typ.Kind() == reflect.Slice {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct {
			continue
		}
		for j := range typ.NumField() {
			key := tagName(typ.Field(j))
			if key == "" {
				continue
			}
			keys++
			if !documented(table, key) {
				t.Errorf("inventory key %s.%s (%s.%s) is not in docs/inventory.md", table, key, typ.Name(), typ.Field(j).Name)
			}
		}
	}
	if keys < 40 {
		t.Errorf("found %d inventory keys: the walk is wrong", keys)
	}
}

func tagName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	if name == "-" {
		return ""
	}
	return name
}
