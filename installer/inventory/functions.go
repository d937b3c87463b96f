package inventory

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// evalContext offers the functions an inventory may call. dir is the
// inventory's folder, against which file() resolves relative paths.
func evalContext(dir string) *hcl.EvalContext {
	return &hcl.EvalContext{
		Functions: map[string]function.Function{
			"env":       envFunc,
			"file":      fileFunc(dir),
			"trimspace": trimspaceFunc,
		},
	}
}

// envFunc is env("NAME") or env("NAME", "default"). An unset variable without
// a default is an error at the call, so a forgotten export fails validate
// rather than shipping an empty password. Errors name the variable, never a value.
var envFunc = function.New(&function.Spec{
	Description: "Returns the value of an environment variable, or the default when it is unset.",
	Params:      []function.Parameter{{Name: "name", Type: cty.String}},
	VarParam:    &function.Parameter{Name: "default", Type: cty.String},
	Type:        function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		if len(args) > 2 {
			return cty.NilVal, fmt.Errorf("env takes a variable name and at most one default, got %d arguments", len(args))
		}
		name := args[0].AsString()
		if v, ok := os.LookupEnv(name); ok {
			if !utf8.ValidString(v) {
				return cty.NilVal, fmt.Errorf("environment variable %s is not valid UTF-8", name)
			}
			return cty.StringVal(v), nil
		}
		if len(args) == 2 {
			return args[1], nil
		}
		return cty.NilVal, fmt.Errorf("environment variable %s is not set; export it, or give a default: env(%q, \"\")", name, name)
	},
})

// fileFunc is file("path"): the file's content as is, a relative path taken
// from the inventory's folder. trimspace(file(...)) drops a trailing newline.
func fileFunc(dir string) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the content of a file; a relative path is taken from the inventory's folder.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p := args[0].AsString()
			if p == "" {
				return cty.NilVal, fmt.Errorf("the path is empty")
			}
			abs := resolvePath(dir, p)
			b, err := readSmallFile(abs)
			if err != nil {
				return cty.NilVal, err
			}
			if !utf8.Valid(b) {
				return cty.NilVal, fmt.Errorf("%s is not UTF-8 text", abs)
			}
			return cty.StringVal(string(b)), nil
		},
	})
}

// maxFileFuncSize bounds file(): it reads keys and passwords, not data.
const maxFileFuncSize = 1 << 20

// readSmallFile reads a regular file of at most maxFileFuncSize bytes; a
// device or fifo (which could block or never end) is refused.
func readSmallFile(path string) ([]byte, error) {
	// Stat before open: opening a fifo would block.
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %v", path, unwrapPathError(err))
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if fi.Size() > maxFileFuncSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxFileFuncSize)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %v", path, unwrapPathError(err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileFuncSize+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %v", path, err)
	}
	if len(b) > maxFileFuncSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxFileFuncSize)
	}
	return b, nil
}

var trimspaceFunc = function.New(&function.Spec{
	Description: "Removes leading and trailing white space.",
	Params:      []function.Parameter{{Name: "s", Type: cty.String}},
	Type:        function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return cty.StringVal(strings.TrimSpace(args[0].AsString())), nil
	},
})

// unwrapPathError drops the op and path an *os.PathError repeats.
func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// resolvePath expands a leading ~ and makes p absolute against dir.
func resolvePath(dir, p string) string {
	p = expandHome(p)
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	return filepath.Clean(p)
}

// expandHome replaces a leading "~" or "~/" with the user's home folder.
// Other forms (~user) are left alone.
func expandHome(p string) string {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return p
	}
	return filepath.Join(home, p[1:])
}
