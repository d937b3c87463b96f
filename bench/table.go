package main

import (
	"fmt"
	"slices"
	"strings"
)

// median of xs; NaN-free callers only. Zero for no values.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// scenario is one row of the table: obsbox's runs and its floor's runs.
type scenario struct {
	name  string
	runs  []sample
	floor []float64
	// floorCPU is the machine's busy CPU seconds over each floor run.
	floorCPU []float64
	notes    []string // anything that makes the row less than it claims
}

func (s *scenario) secs() []float64 {
	out := make([]float64, len(s.runs))
	for i, r := range s.runs {
		out[i] = r.secs
	}
	return out
}

// ratio is obsbox's median over its floor's median; 0 when either is missing.
func (s *scenario) ratio() float64 {
	f := median(s.floor)
	if f == 0 || len(s.runs) == 0 {
		return 0
	}
	return median(s.secs()) / f
}

// peakRSS is the largest ru_maxrss over the runs, in bytes.
func (s *scenario) peakRSS() int64 {
	var m int64
	for _, r := range s.runs {
		m = max(m, r.rssKB*1024)
	}
	return m
}

// perHost summarises bytes sent and round trips per host over every run's
// report: the mean over hosts and the largest single host.
type perHost struct {
	bytesAvg, bytesMax float64
	rtMin, rtMax       int64
	hosts              int
}

func (s *scenario) perHost() (perHost, bool) {
	var p perHost
	var total float64
	first := true
	for _, r := range s.runs {
		if r.rep == nil {
			continue
		}
		for _, h := range r.rep.Hosts {
			total += float64(h.Uploaded)
			p.bytesMax = max(p.bytesMax, float64(h.Uploaded))
			if first || h.RoundTrips < p.rtMin {
				p.rtMin = h.RoundTrips
			}
			if first || h.RoundTrips > p.rtMax {
				p.rtMax = h.RoundTrips
			}
			first = false
			p.hosts++
		}
	}
	if p.hosts == 0 {
		return p, false
	}
	p.bytesAvg = total / float64(p.hosts)
	return p, true
}

var mainHeader = []string{"scenario", "obsbox (median s)", "floor (median s)", "× floor", "machine CPU s (obsbox / floor)", "sent per host (mean / largest)", "SSH round trips per host", "peak RSS"}

// machineCPU is the median busy CPU seconds of the whole machine over
// obsbox's runs and over the floor's, "—" where not measured.
func (s *scenario) machineCPU() string {
	var obs []float64
	for _, r := range s.runs {
		if r.machineCPU > 0 {
			obs = append(obs, r.machineCPU)
		}
	}
	var flo []float64
	for _, c := range s.floorCPU {
		if c > 0 {
			flo = append(flo, c)
		}
	}
	cell := func(xs []float64) string {
		if len(xs) == 0 {
			return "—"
		}
		return fmt.Sprintf("%.1f", median(xs))
	}
	if len(obs) == 0 && len(flo) == 0 {
		return "—"
	}
	return cell(obs) + " / " + cell(flo)
}

func (s *scenario) row() []string {
	obs, flo, ratio := "—", "—", "—"
	if len(s.runs) > 0 {
		obs = fmt.Sprintf("%.2f", median(s.secs()))
	}
	if len(s.floor) > 0 {
		flo = fmt.Sprintf("%.2f", median(s.floor))
	}
	if r := s.ratio(); r > 0 {
		ratio = fmt.Sprintf("%.1f×", r)
	}
	sent, rts := "—", "—"
	if p, ok := s.perHost(); ok {
		sent = humanBytes(p.bytesAvg) + " / " + humanBytes(p.bytesMax)
		rts = fmt.Sprint(p.rtMin)
		if p.rtMax != p.rtMin {
			rts = fmt.Sprintf("%d–%d", p.rtMin, p.rtMax)
		}
	}
	rss := "—"
	if m := s.peakRSS(); m > 0 {
		rss = megabytes(m)
	}
	return []string{s.name, obs, flo, ratio, s.machineCPU(), sent, rts, rss}
}

// markdown renders a table GitHub and a terminal both read well.
func markdown(header []string, rows [][]string) string {
	width := make([]int, len(header))
	for i, h := range header {
		width[i] = len([]rune(h))
	}
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	var b strings.Builder
	line := func(cells []string) {
		b.WriteString("|")
		for i, c := range cells {
			fmt.Fprintf(&b, " %s%s |", c, strings.Repeat(" ", width[i]-len([]rune(c))))
		}
		b.WriteString("\n")
	}
	line(header)
	sep := make([]string, len(header))
	for i := range sep {
		sep[i] = strings.Repeat("-", width[i])
	}
	line(sep)
	for _, r := range rows {
		line(r)
	}
	return b.String()
}

func humanBytes(n float64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", n/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", n/(1<<10))
	}
	return fmt.Sprintf("%.0f B", n)
}

// megabytes prints bytes in MB (10^6), the unit the RSS goal is stated in.
func megabytes(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

// goal is one target of issue 8, checked and reported, never asserted.
type goal struct {
	what   string
	actual string
	met    bool
	known  bool // false: not measured in this run
}

func (g goal) String() string {
	switch {
	case !g.known:
		return fmt.Sprintf("- [ ] %s: not measured (%s)", g.what, g.actual)
	case g.met:
		return fmt.Sprintf("- [x] %s: met (%s)", g.what, g.actual)
	}
	return fmt.Sprintf("- [ ] %s: MISSED (%s)", g.what, g.actual)
}

// ratioGoal checks a scenario's time against a multiple of its floor.
func ratioGoal(what string, s *scenario, limit float64) goal {
	r := s.ratio()
	if r == 0 {
		return goal{what: what, actual: "no runs"}
	}
	return goal{what: what, actual: fmt.Sprintf("%.1f×", r), met: r <= limit, known: true}
}

// roundTripGoal checks that no host needed more than limit round trips.
func roundTripGoal(what string, s *scenario, limit int64) goal {
	p, ok := s.perHost()
	if !ok {
		return goal{what: what, actual: "no --json report"}
	}
	return goal{what: what, actual: fmt.Sprintf("at most %d per host", p.rtMax), met: p.rtMax <= limit, known: true}
}

// rssGoal checks the largest peak RSS over the given runs against limit bytes.
func rssGoal(what string, limit int64, runs ...[]sample) goal {
	var m int64
	for _, rs := range runs {
		for _, r := range rs {
			m = max(m, r.rssKB*1024)
		}
	}
	if m == 0 {
		return goal{what: what, actual: "no run at that size"}
	}
	return goal{what: what, actual: megabytes(m), met: m < limit, known: true}
}

// medianRun is the run whose time is the median (the lower middle of an
// even count), so its phases add up to the time the table shows.
func (s *scenario) medianRun() (sample, bool) {
	if len(s.runs) == 0 {
		return sample{}, false
	}
	runs := slices.Clone(s.runs)
	slices.SortFunc(runs, func(a, b sample) int {
		switch {
		case a.secs < b.secs:
			return -1
		case a.secs > b.secs:
			return 1
		}
		return 0
	})
	return runs[(len(runs)-1)/2], true
}

// phaseTable lays out, per scenario, the seconds its median run spent in
// each of obsbox's phases, and the CPU time the obsbox process used: what
// is not CPU here is the network and the hosts. Columns are the phases in
// the order first seen.
func phaseTable(first string, scs []*scenario, label func(*scenario) string) (header []string, rows [][]string) {
	var titles []string
	runs := make([]sample, len(scs))
	for i, s := range scs {
		runs[i], _ = s.medianRun()
		for _, p := range runs[i].phases {
			if !slices.Contains(titles, p.title) {
				titles = append(titles, p.title)
			}
		}
	}
	header = append([]string{first, "total", "obsbox CPU"}, titles...)
	for i, s := range scs {
		row := []string{label(s), "—", "—"}
		if len(s.runs) > 0 {
			row[1] = fmt.Sprintf("%.2f", runs[i].secs)
			row[2] = fmt.Sprintf("%.2f", runs[i].cpuSecs)
		}
		for _, t := range titles {
			cell := "—"
			for _, p := range runs[i].phases {
				if p.title == t {
					cell = fmt.Sprintf("%.2f", p.secs)
				}
			}
			row = append(row, cell)
		}
		rows = append(rows, row)
	}
	return header, rows
}
