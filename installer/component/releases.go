package component

import (
	"github.com/obsbox/obsbox/bundles"
)

// majorMinor reads a release line from a version; ok is false when it does
// not parse (the inventory validates versions, so only tests see that).
func majorMinor(version string) (major, minor uint64, ok bool) {
	v, err := bundles.ParseVersion(version)
	if err != nil {
		return 0, 0, false
	}
	return v.Major, v.Minor, true
}
