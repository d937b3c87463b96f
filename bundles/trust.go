package bundles

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/obsbox/obsbox/internal/owner"
)

// changeableByOthers refuses a cache folder or tarball that group or
// others may write, or (unless we are root, as the key and secret checks
// do) that a user other than us or root owns: the tarball streams to root
// on every host, who unpacks it before the host's sha256 check can refuse
// it, and the cache is trusted by size once an entry is in it.
func changeableByOthers(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("bundle cache: %s has mode %04o: group or others may change it, and with it what root unpacks on every host; "+
			"\"chmod go-w %s\", or set bundles.dir to a cache of your own", path, perm, path)
	}
	if uid, foreign := owner.Foreign(fi); foreign {
		return fmt.Errorf("bundle cache: %s belongs to user id %d, not to you (%d) or root, who could change what root unpacks on every host; "+
			"set bundles.dir to a cache of your own", path, uid, os.Geteuid())
	}
	return nil
}

// entryTrusted checks the cache folder, the entry's folder and its tarball.
func (s *Store) entryTrusted(tarball string) error {
	for _, p := range []string{s.Dir, filepath.Dir(tarball), tarball} {
		if err := changeableByOthers(p); err != nil {
			return err
		}
	}
	return nil
}
