// Package owner decides whether a file's owner is one obsbox trusts: the
// user it runs as or root. Running as root, any owner is trusted (sudo
// obsbox in one's own checkout reads the files of the user who ran sudo);
// the callers refuse group- and other-writable modes on their own terms.
package owner

import (
	"io/fs"
	"os"
	"syscall"
)

// Foreign returns the owner's uid and true when fi belongs to neither the
// user obsbox runs as nor root, while obsbox does not run as root.
func Foreign(fi fs.FileInfo) (uid uint32, foreign bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	me := os.Geteuid()
	return st.Uid, me != 0 && int(st.Uid) != me && st.Uid != 0
}
