package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/obsbox/obsbox/installer/inventory"
	"github.com/spf13/cobra"
)

func newInitCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "init [PATH]",
		Short: "Write a commented example inventory (never overwrites)",
		Long: `Writes a commented example inventory to PATH (default: the -i path, ./obsbox.hcl).
It validates as written; edit its hosts, then run "obsbox validate".
An existing file is never overwritten.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := g.inventory
			if len(args) == 1 {
				path = args[0]
			}
			if err := writeNewFile(path, inventory.ExampleInventory()); err != nil {
				if errors.Is(err, fs.ErrExist) {
					return usageError(fmt.Errorf("%s already exists; obsbox init never overwrites a file (move it away, or give another path: obsbox init PATH)", path))
				}
				return failure(err)
			}
			if g.json {
				b, _ := json.Marshal(map[string]any{"path": path, "written": true})
				fmt.Fprintf(g.stdout, "%s\n", b)
				return nil
			}
			next := "obsbox validate"
			if path != g.inventory {
				next += " -i " + path
			}
			fmt.Fprintf(g.human(), "Wrote an example inventory to %s.\nEdit its hosts, then run: %s\n", path, next)
			return nil
		},
	}
}

// writeNewFile creates path with content; it fails with fs.ErrExist rather
// than touch a file that is there.
func writeNewFile(path string, content []byte) error {
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("cannot create the folder for %s: %w", path, err)
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		return fmt.Errorf("cannot create %s: %w", path, err)
	}
	_, werr := f.Write(content)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(path)
		return fmt.Errorf("cannot write %s: %w", path, werr)
	}
	return nil
}
