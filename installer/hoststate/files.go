package hoststate

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/obsbox/obsbox/installer/shell"
)

// tagFile is a record of FilesScript: + the file's index, its content in base64.
const tagFile = "@@obsbox file"

// FilesScript returns the read-only script that prints the content of each
// readable regular file among paths (the plan's diffs read the host's copies
// with it). Paths are only ever quoted arguments; the output never echoes
// them, only their index.
func FilesScript(paths []string) string {
	var b strings.Builder
	b.WriteString("export LC_ALL=C\n")
	// base64: file content may hold NUL, which would end a field.
	fmt.Fprintf(&b, "show() { if [ -f \"$2\" ] && [ -r \"$2\" ]; then printf '%s\\000%%s\\000' \"$1\"; base64 < \"$2\" || exit 1; printf '\\000'; fi; }\n", tagFile)
	for i, p := range paths {
		fmt.Fprintf(&b, "show %d %s\n", i, shell.Quote(p))
	}
	b.WriteString(printEnd + "\n")
	return b.String()
}

// ParseFiles reads what FilesScript printed for n paths: content i is nil
// for a file that was missing or unreadable.
func ParseFiles(out []byte, n int) ([]*string, error) {
	contents := make([]*string, n)
	err := readTagged(out, "the file reader", map[string]int{tagFile: 2}, nil, func(_ string, f []string) error {
		idx, err := strconv.Atoi(f[0])
		if err != nil || idx < 0 || idx >= n || contents[idx] != nil {
			return fmt.Errorf("the file reader's output names an unexpected file %q", clip(f[0]))
		}
		raw, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(f[1], "\n", ""))
		if err != nil {
			return fmt.Errorf("the host's answer for file %d: %w", idx, err)
		}
		s := string(raw)
		contents[idx] = &s
		return nil
	})
	if err != nil {
		return nil, err
	}
	return contents, nil
}
