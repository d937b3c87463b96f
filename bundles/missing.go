package bundles

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Want is one bundle a run needs.
type Want struct{ Component, Version, Arch string }

// MissingBundles is every bundle a run needs that the cache lacks while
// bundles.offline forbids downloading, listed at once so one trip to a
// machine with access fetches them all.
type MissingBundles []*MissingError

func (m MissingBundles) Error() string {
	if len(m) == 0 {
		return "no bundle is missing"
	}
	var files, pulls, names []string
	for _, e := range m {
		name := TarballName(e.Component, e.Version, e.Arch)
		files = append(files, fmt.Sprintf("  %s (%s %s, %s) from %s", name, e.Component, e.Version, e.Arch, e.URL))
		pulls = append(pulls, fmt.Sprintf("%s@%s --arch %s", e.Component, e.Version, e.Arch))
		names = append(names, name)
	}
	return fmt.Sprintf("%d bundle(s) are not in the bundle cache %s and bundles.offline is set, so obsbox will not download them:\n%s\n"+
		"Get them on a machine with access (`obsbox bundle pull %s`, or download the files above), copy them here and run:\n  obsbox bundle import %s",
		len(m), m[0].Dir, strings.Join(files, "\n"), strings.Join(pulls, " "), strings.Join(names, " "))
}

// Add appends e unless the same bundle is listed already; the list stays sorted.
func (m MissingBundles) Add(e ...*MissingError) MissingBundles {
	for _, x := range e {
		if !slices.ContainsFunc(m, func(y *MissingError) bool {
			return y.Component == x.Component && y.Version == x.Version && y.Arch == x.Arch
		}) {
			m = append(m, x)
		}
	}
	slices.SortFunc(m, func(a, b *MissingError) int {
		return strings.Compare(key(a.Component, a.Version, a.Arch), key(b.Component, b.Version, b.Arch))
	})
	return m
}

// Missing lists every wanted bundle that an offline Store cannot provide
// (not cached, or cached but damaged beyond repair); online, Ensure downloads
// what is missing, so nothing is listed. It never downloads.
func (s *Store) Missing(ctx context.Context, wants []Want) (MissingBundles, error) {
	if !s.Offline {
		return nil, nil
	}
	var out MissingBundles
	for _, w := range wants {
		b, err := s.Cached(ctx, w.Component, w.Version, w.Arch)
		if err != nil {
			return nil, err
		}
		if b != nil {
			continue
		}
		src, err := SourceFor(s.Mirror, w.Component, w.Version, w.Arch)
		if err != nil {
			return nil, err
		}
		out = out.Add(&MissingError{Component: w.Component, Version: w.Version, Arch: w.Arch, Dir: s.Dir, URL: redactURL(src.Tarball)})
	}
	return out, nil
}
