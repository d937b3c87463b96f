package bundles

import (
	"fmt"
	"strconv"
	"strings"
)

// The one version syntax of obsbox, used by the inventory, the catalog, the
// lock file, tarball names and the CLI: a semantic version 2.0.0 without the
// leading "v" upstream tags carry and without build metadata (no upstream
// release file name has any). Pre-releases follow semver, so "3.0.0-rc.1"
// and "1.0.0-rc-1" are both valid (hyphens are allowed in identifiers).

// Version is a parsed release version.
type Version struct {
	Major, Minor, Patch uint64
	Pre                 []string // pre-release identifiers; nil for a release
}

// ParseVersion parses MAJOR.MINOR.PATCH with an optional -prerelease.
func ParseVersion(s string) (Version, error) {
	bad := func(why string) (Version, error) {
		return Version{}, fmt.Errorf("version %q is not a release version like 2.53.2 or 3.0.0-rc.1: %s", s, why)
	}
	core, pre, hasPre := strings.Cut(s, "-")
	if strings.HasPrefix(s, "v") {
		return bad(fmt.Sprintf("no leading v (write %q)", s[1:]))
	}
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return bad("it needs three numbers MAJOR.MINOR.PATCH")
	}
	var nums [3]uint64
	for i, p := range parts {
		if !isNumeric(p) || (len(p) > 1 && p[0] == '0') {
			return bad(fmt.Sprintf("%q is not a number without leading zeros", p))
		}
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return bad(fmt.Sprintf("%q is too large", p))
		}
		nums[i] = n
	}
	v := Version{Major: nums[0], Minor: nums[1], Patch: nums[2]}
	if hasPre {
		v.Pre = strings.Split(pre, ".")
		for _, id := range v.Pre {
			switch {
			case id == "":
				return bad("a pre-release identifier is empty")
			case strings.Trim(id, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-") != "":
				return bad("a pre-release holds only letters, digits, '-' and '.'")
			case isNumeric(id) && len(id) > 1 && id[0] == '0':
				return bad(fmt.Sprintf("the numeric pre-release identifier %q has a leading zero", id))
			}
		}
	}
	return v, nil
}

// CheckVersion returns an error unless v is a release version (see ParseVersion).
func CheckVersion(v string) error {
	_, err := ParseVersion(v)
	return err
}

// ValidVersion reports whether v is a release version (see ParseVersion).
func ValidVersion(v string) bool { return CheckVersion(v) == nil }

// CompareVersions orders release versions by semver precedence: numerically,
// a pre-release before its release. Versions that do not parse sort before
// those that do.
func CompareVersions(a, b string) int {
	va, errA := ParseVersion(a)
	vb, errB := ParseVersion(b)
	switch {
	case errA != nil && errB != nil:
		return strings.Compare(a, b)
	case errA != nil:
		return -1
	case errB != nil:
		return 1
	}
	return va.Compare(vb)
}

// Compare returns -1, 0 or 1 as v sorts before, like or after w.
func (v Version) Compare(w Version) int {
	for _, c := range [][2]uint64{{v.Major, w.Major}, {v.Minor, w.Minor}, {v.Patch, w.Patch}} {
		if c[0] != c[1] {
			return cmpInt(c[0] < c[1])
		}
	}
	switch {
	case len(v.Pre) == 0 && len(w.Pre) == 0:
		return 0
	case len(v.Pre) == 0:
		return 1
	case len(w.Pre) == 0:
		return -1
	}
	for i := 0; i < len(v.Pre) && i < len(w.Pre); i++ {
		x, y := v.Pre[i], w.Pre[i]
		if x == y {
			continue
		}
		xn, yn := isNumeric(x), isNumeric(y)
		switch {
		case xn && yn:
			if len(x) != len(y) { // no leading zeros: the longer is larger
				return cmpInt(len(x) < len(y))
			}
			return strings.Compare(x, y)
		case xn:
			return -1 // numeric identifiers sort before alphanumeric ones
		case yn:
			return 1
		}
		return strings.Compare(x, y)
	}
	if len(v.Pre) == len(w.Pre) {
		return 0
	}
	return cmpInt(len(v.Pre) < len(w.Pre))
}

func cmpInt(less bool) int {
	if less {
		return -1
	}
	return 1
}

func isNumeric(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}
