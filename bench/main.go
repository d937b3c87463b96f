// Command bench measures obsbox against the physical floor on real test hosts
// (issue 8): it boots hosts with the e2e harness, times fresh install, a
// no-op apply, add-host and plan against what plain ssh/scp and systemd cost
// for the same work, and prints one table. Goals are checked and reported,
// never asserted: a slow run still exits 0. `make bench N=10` runs it.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/obsbox/obsbox/e2e/harness"
	"github.com/obsbox/obsbox/installer/catalog"
)

type config struct {
	n        int
	runs     int
	rtts     []time.Duration // round trips added to every SSH connection, one table each
	baseline string          // an older obsbox for the dead-host figures' "before"; "" none
	scale    []int
	bin      string
	out      string
	between  string // auto, uninstall or reboot
}

func main() {
	var cfg config
	var scale, rtts string
	flag.IntVar(&cfg.n, "n", 10, "hosts in the fleet (one more is booted for add-host)")
	flag.IntVar(&cfg.runs, "runs", 3, "runs per scenario; the table shows medians")
	flag.StringVar(&scale, "scale", "1,10,25,50", "fleet sizes for the no-op scale run, comma-separated (empty: skip)")
	flag.StringVar(&rtts, "rtt", "0", "round trips in ms added to every SSH connection to the test hosts, comma-separated: the main table is measured at each (nftables redirect to a delaying relay)")
	flag.StringVar(&cfg.baseline, "baseline", "", "an older obsbox binary: the dead-host figures show it as \"before\"")
	flag.StringVar(&cfg.bin, "obsbox", "bin/obsbox", "the obsbox binary to measure")
	flag.StringVar(&cfg.out, "out", "", "folder for obsbox's logs and results.md (default: a new folder under /tmp)")
	flag.StringVar(&cfg.between, "between", "auto", "how hosts are made fresh between fresh installs: uninstall (obsbox uninstall --yes), reboot (new hosts), or auto (uninstall when obsbox has it, reboot when it has not or it fails)")
	flag.Parse()

	var err error
	if cfg.scale, err = parseSizes(scale); err != nil {
		fatal(err)
	}
	if cfg.rtts, err = parseRTTs(rtts); err != nil {
		fatal(err)
	}
	switch {
	case cfg.n < 1 || cfg.n > 49:
		fatal(fmt.Errorf("-n must be 1 to 49 (the harness boots at most 50 hosts, one is kept for add-host), got %d", cfg.n))
	case cfg.runs < 1:
		fatal(fmt.Errorf("-runs must be at least 1, got %d", cfg.runs))
	case !slices.Contains([]string{"auto", "uninstall", "reboot"}, cfg.between):
		fatal(fmt.Errorf("-between must be auto, uninstall or reboot, got %q", cfg.between))
	case os.Geteuid() != 0:
		fatal(errors.New("must run as root: the test hosts are systemd-nspawn machines (make bench does this)"))
	}
	if _, err := os.Stat(cfg.bin); err != nil {
		fatal(fmt.Errorf("%s missing: run `make build` (make bench does)", cfg.bin))
	}
	if err := run(cfg); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		k, err := strconv.Atoi(f)
		if err != nil || k < 1 || k > 50 {
			return nil, fmt.Errorf("-scale: %q is not a host count from 1 to 50", f)
		}
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out, nil
}

func parseRTTs(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		ms, err := strconv.Atoi(f)
		if err != nil || ms < 0 || ms > 2000 {
			return nil, fmt.Errorf("-rtt: %q is not a round trip in ms from 0 to 2000", f)
		}
		if d := time.Duration(ms) * time.Millisecond; !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		out = []time.Duration{0}
	}
	return out, nil
}

// bench is one `make bench`: its working folder, the hosts it holds, the
// obsbox runner and the floor.
type bench struct {
	cfg    config
	dir    string // inventory, bundle cache, known_hosts
	mirror string
	cmds   map[string]bool
	r      *runner
	fl     *floor
	tars   map[string]string // component -> cached tarball
	out    io.Writer         // stdout and results.md
	fresh  []string          // how hosts were made fresh between fresh installs, once per way
	lat    *latency          // the relay and its redirect

	mu sync.Mutex
	c  *harness.Cluster
}

func run(cfg config) error {
	if err := harness.BuildBundles(); err != nil {
		return err
	}
	if cfg.out == "" {
		d, err := os.MkdirTemp("", "obsbox-bench-")
		if err != nil {
			return err
		}
		cfg.out = d
	}
	out, err := filepath.Abs(cfg.out)
	if err != nil {
		return err
	}
	cfg.out = out
	defer fmt.Fprintf(os.Stderr, "bench: obsbox's logs and results.md are in %s\n", cfg.out)
	logDir := filepath.Join(cfg.out, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	// A copy: a `make build` elsewhere in the checkout must not swap the
	// binary in the middle of the measurements.
	bin, err := copyBinary(cfg.bin, filepath.Join(cfg.out, "obsbox"))
	if err != nil {
		return err
	}
	cfg.bin = bin
	cmds, err := commands(cfg.bin)
	if err != nil {
		return err
	}
	results, err := os.Create(filepath.Join(cfg.out, "results.md"))
	if err != nil {
		return err
	}
	defer results.Close()

	mirror, stop := harness.ServeMirror()
	defer stop()
	b := &bench{
		cfg: cfg, dir: filepath.Join(cfg.out, "work"), mirror: mirror, cmds: cmds,
		out: io.MultiWriter(os.Stdout, results),
	}
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return err
	}
	b.r = &runner{bin: cfg.bin, inv: filepath.Join(b.dir, "obsbox.hcl"), logDir: logDir}
	b.fl = &floor{knownHosts: filepath.Join(b.dir, "known_hosts")}
	if b.lat, err = startLatency(); err != nil {
		return err
	}
	defer b.lat.close()
	b.stopOnSignal()

	b.header()
	table, err := b.mainTable()
	if err != nil {
		return err
	}
	var sc *scaleResult
	if len(cfg.scale) > 0 {
		if sc, err = b.scaleTable(); err != nil {
			return err
		}
	}
	b.goals(table, sc)
	return nil
}

// stopOnSignal tears the hosts down on Ctrl-C, so the run lock is not left
// to the next run's leftover cleanup.
func (b *bench) stopOnSignal() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-ch
		fmt.Fprintf(os.Stderr, "bench: %s: removing the latency rule, stopping the test hosts\n", s)
		b.lat.close()
		b.down()
		os.Exit(130)
	}()
}

func (b *bench) boot(n int) error {
	if err := raiseInotifyInstances(n); err != nil {
		return err
	}
	progress("booting %s", nHosts(n))
	start := time.Now()
	c, err := upWaiting(n, 30*time.Minute)
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.c = c
	b.mu.Unlock()
	b.fl.key = c.KeyPath
	kh, err := os.ReadFile(c.KnownHostsPath)
	if err != nil {
		return err
	}
	progress("%s up in %.0fs", nHosts(n), time.Since(start).Seconds())
	return os.WriteFile(b.fl.knownHosts, kh, 0o600)
}

// upWaiting is harness.Up, but it also waits (up to wait) while hosts that
// someone started by hand hold the bridge, where the harness gives up at
// once: a bench queues behind a demo instead of failing.
func upWaiting(n int, wait time.Duration) (*harness.Cluster, error) {
	deadline := time.Now().Add(wait)
	told := false
	for {
		c, err := harness.Up(n)
		if err == nil || !strings.Contains(err.Error(), "started by hand") || time.Now().After(deadline) {
			return c, err
		}
		if !told {
			progress("waiting up to %s for test hosts started by hand to go down (%v)", wait, err)
			told = true
		}
		time.Sleep(10 * time.Second)
	}
}

// raiseInotifyInstances makes room for n booted systemds: each takes several
// inotify instances, and under Debian's default of 128 per user the
// nineteenth host or so fails with "Too many open files".
func raiseInotifyInstances(n int) error {
	const path = "/proc/sys/fs/inotify/max_user_instances"
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	have, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("%s: %q is not a number", path, b)
	}
	want := 128 + 16*n
	if have >= want {
		return nil
	}
	progress("raising fs.inotify.max_user_instances from %d to %d for %s", have, want, nHosts(n))
	return os.WriteFile(path, []byte(strconv.Itoa(want)), 0o644)
}

// copyBinary copies the obsbox under test to dst and returns dst.
func copyBinary(src, dst string) (string, error) {
	b, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	return dst, os.WriteFile(dst, b, 0o755)
}

func (b *bench) down() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.c == nil {
		return
	}
	if err := b.c.Down(); err != nil {
		fmt.Fprintln(os.Stderr, "bench: tearing down the hosts:", err)
	}
	b.c = nil
}

func (b *bench) writeInventory(hosts []harness.Host) error {
	return writeInventory(b.r.inv, inventoryData{
		Key: b.fl.key, KnownHosts: b.fl.knownHosts, Dir: b.dir, Mirror: b.mirror,
		Bridge: harness.BridgeAddress(), Hosts: hosts,
	})
}

// files are the tarballs obsbox sends a host of the inventory: node_exporter
// to every host, the rest to the first.
func (b *bench) files(first harness.Host) func(harness.Host) []string {
	return func(h harness.Host) []string {
		var out []string
		for _, c := range catalog.All() {
			if t := b.tars[c.Name]; t != "" && (c.Role == "" || h == first) {
				out = append(out, t)
			}
		}
		return out
	}
}

func (b *bench) header() {
	version, _ := exec.Command(b.cfg.bin, "version").Output()
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	fmt.Fprintf(b.out, "# obsbox bench, %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	load := "unknown"
	if raw, err := os.ReadFile("/proc/loadavg"); err == nil && len(strings.Fields(string(raw))) >= 3 {
		load = strings.Join(strings.Fields(string(raw))[:3], " ")
	}
	runs := fmt.Sprintf("medians of %d runs", b.cfg.runs)
	if b.cfg.runs == 1 {
		runs = "one run each"
	}
	fmt.Fprintf(b.out, "%s on %d CPUs (load average %s at the start), Linux %s; hosts: systemd-nspawn machines on one bridge (e2e harness); %s.\n\n",
		strings.TrimSpace(string(version)), runtime.NumCPU(), load,
		strings.TrimSpace(string(kernel)), runs)
}

func nHosts(n int) string {
	if n == 1 {
		return "1 host"
	}
	return fmt.Sprintf("%d hosts", n)
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// rttSet is the main table's scenarios at one added round trip. one is a
// fresh install of the first host alone: its time is its own, not shared
// with nine other hosts on the same CPUs.
type rttSet struct {
	rtt                         time.Duration
	fresh, noop, add, plan, one *scenario
}

func (t *rttSet) all() []*scenario { return []*scenario{t.fresh, t.noop, t.add, t.plan, t.one} }

// mainResult is the main table at every RTT, then the slow and dead hosts.
type mainResult struct {
	sets []*rttSet
	slow *slowResult
}

// mainTable boots N+1 hosts and, per round and per added round trip,
// measures each scenario and its floor on the first N (the extra host is
// the one add-host adds); then a fleet with one slow host, then one with a
// host powered off.
func (b *bench) mainTable() (*mainResult, error) {
	n := b.cfg.n
	if err := b.boot(n + 1); err != nil {
		return nil, err
	}
	defer b.down()
	fleet, extra := b.c.Hosts[:n], b.c.Hosts[n]

	addName := fmt.Sprintf("`add-host %s` (1 host)", extra.Name)
	if !b.cmds["add-host"] {
		addName = fmt.Sprintf("`apply --hosts %s` after appending its host block by hand (no `add-host` yet)", extra.Name)
	}
	res := &mainResult{}
	for _, rtt := range b.cfg.rtts {
		res.sets = append(res.sets, &rttSet{rtt: rtt,
			fresh: &scenario{name: "fresh install, full stack, " + nHosts(n)},
			noop:  &scenario{name: "apply, nothing to do"},
			add:   &scenario{name: addName},
			plan:  &scenario{name: "plan, nothing to do"},
			one:   &scenario{name: "fresh install, full stack, " + fleet[0].Name + " alone"},
		})
	}
	used := false // the hosts have had a fresh install
	for round := 1; round <= b.cfg.runs; round++ {
		for _, set := range res.sets {
			if used {
				if err := b.freshen(n + 1); err != nil {
					return nil, err
				}
				fleet, extra = b.c.Hosts[:n], b.c.Hosts[n]
			}
			used = true
			if err := b.measureRound(round, set, fleet, extra); err != nil {
				b.lat.set(0, nil)
				return nil, err
			}
			if err := b.lat.set(0, nil); err != nil {
				return nil, err
			}
		}
	}

	first, other := b.files(fleet[0])(fleet[0]), b.files(fleet[0])(extra)
	firstBytes, _ := sizeOf(first)
	otherBytes, _ := sizeOf(other)
	for _, set := range res.sets {
		rows := [][]string{}
		for _, s := range set.all() {
			rows = append(rows, s.row())
		}
		fmt.Fprintf(b.out, "## %s, %s added round trip\n\n", nHosts(n), ms(set.rtt))
		fmt.Fprint(b.out, markdown(mainHeader, rows))
		ph, prow := phaseTable("scenario", set.all(), func(s *scenario) string { return s.name })
		fmt.Fprintf(b.out, "\nWhere the time goes: seconds per phase of each scenario's median run, from `obsbox -v` (hosts go at their own pace: a phase runs from the first host entering it to the first entering the next):\n\n")
		fmt.Fprint(b.out, markdown(ph, prow))
		for _, s := range set.all() {
			for _, note := range s.notes {
				fmt.Fprintf(b.out, "\n**%s**: %s", s.name, note)
			}
		}
		fmt.Fprintln(b.out)
	}
	fmt.Fprintf(b.out, "\nFloors, measured the same way with the system's ssh and scp, all hosts at once, under the same added round trip:\n")
	fmt.Fprintf(b.out, "- scp + start: per host one `scp` of the tarballs obsbox sends it (%s to %s, %s to each other host), then one `ssh host systemd-run …` starting one unit.\n",
		humanBytes(float64(firstBytes)), fleet[0].Name, humanBytes(float64(otherBytes)))
	fmt.Fprintf(b.out, "- ssh true: one `ssh host true` per host.\n")
	fmt.Fprintf(b.out, "\nThe round trip is added by an nftables rule redirecting every new connection to the hosts' port 22 to a relay on 127.0.0.1 that delivers each chunk half of it later, each way, in order.\n")
	between := "none (one run)"
	if len(b.fresh) > 0 {
		between = strings.Join(b.fresh, "; ")
	}
	fmt.Fprintf(b.out, "\nBetween fresh installs: %s. Round trips and bytes are obsbox's own counts (`--json`: `round_trips`, `uploaded_bytes`); peak RSS is the obsbox process's ru_maxrss (wait4), the largest over the runs. Machine CPU is the busy CPU time of the whole machine over a run (/proc/stat): the controller, the relay and every test host share its %d CPUs, so a run whose machine CPU comes near %d × its time was held back by the CPUs, not the network.\n", between, runtime.NumCPU(), runtime.NumCPU())

	if n >= 2 {
		if err := b.freshen(n + 1); err != nil {
			return nil, err
		}
		fleet = b.c.Hosts[:n]
		sl, err := b.slowHost(res.sets[0], fleet)
		if err != nil {
			return nil, err
		}
		res.slow = sl
		fleet = b.c.Hosts[:n] // freshened in between
		if err := b.deadHost(fleet); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// measureRound is one round of the main table at set's round trip.
func (b *bench) measureRound(round int, set *rttSet, fleet []harness.Host, extra harness.Host) error {
	if err := b.writeInventory(fleet); err != nil {
		return err
	}
	if b.tars == nil {
		tars, err := b.r.pull()
		if err != nil {
			return err
		}
		b.tars = tars
	}
	if err := b.lat.set(set.rtt, nil); err != nil {
		return err
	}
	at := fmt.Sprintf("round %d/%d, %s", round, b.cfg.runs, ms(set.rtt))
	files := b.files(fleet[0])

	if b.cmds["uninstall"] { // the first host alone, then made fresh again for the fleet
		if err := b.measureAlone(at, set, fleet[:1], files); err != nil {
			return err
		}
		if err := b.writeInventory(fleet); err != nil {
			return err
		}
	}

	progress("%s: floors", at)
	t, err := b.fl.install(fleet, files)
	if err != nil {
		return fmt.Errorf("fresh-install floor: %w", err)
	}
	set.fresh.addFloor(t)
	if t, err = b.fl.install([]harness.Host{extra}, files); err != nil {
		return fmt.Errorf("add-host floor: %w", err)
	}
	set.add.addFloor(t)

	progress("%s: fresh install", at)
	s, err := b.r.run("fresh-"+ms(set.rtt), "apply", "--json")
	if err != nil {
		return err
	}
	set.fresh.add(s, checkFresh)

	if t, err = b.fl.sshTrue(fleet); err != nil {
		return fmt.Errorf("no-op floor: %w", err)
	}
	set.noop.addFloor(t)
	set.plan.addFloor(t)
	progress("%s: no-op apply, plan", at)
	if s, err = b.r.run("noop-"+ms(set.rtt), "apply", "--json"); err != nil {
		return err
	}
	set.noop.add(s, checkNoop)
	if s, err = b.r.run("plan-"+ms(set.rtt), "plan", "--json"); err != nil {
		return err
	}
	set.plan.add(s, checkNoop)

	progress("%s: add %s", at, extra.Name)
	if b.cmds["add-host"] {
		s, err = b.r.run("add-host-"+ms(set.rtt), "add-host", extra.Name, "--address", extra.Address, "--json")
	} else {
		if err := appendHostBlock(b.r.inv, extra); err != nil {
			return err
		}
		s, err = b.r.run("add-by-hand-"+ms(set.rtt), "apply", "--hosts", extra.Name, "--json")
	}
	if err != nil {
		return err
	}
	set.add.add(s, nil)
	return nil
}

// measureAlone is the one scenario: a fresh install of alone (one host)
// and its floor, then uninstall, which makes it fresh for the fleet's.
func (b *bench) measureAlone(at string, set *rttSet, alone []harness.Host, files func(harness.Host) []string) error {
	progress("%s: %s alone", at, alone[0].Name)
	if err := b.writeInventory(alone); err != nil {
		return err
	}
	t, err := b.fl.install(alone, files)
	if err != nil {
		return fmt.Errorf("one-host floor: %w", err)
	}
	set.one.addFloor(t)
	s, err := b.r.run("fresh-alone-"+ms(set.rtt), "apply", "--json")
	if err != nil {
		return err
	}
	set.one.add(s, checkFresh)
	if _, err := b.r.run("uninstall-alone", "uninstall", "--yes"); err != nil {
		return fmt.Errorf("making %s fresh again: %w", alone[0].Name, err)
	}
	return nil
}

// slowDelay is the round trip added to one host of the slow-host run.
const slowDelay = 500 * time.Millisecond

// slowResult compares the other hosts' own times with and without one slow host.
type slowResult struct {
	slowName      string
	with, without float64 // the slowest other host's own seconds (--json "seconds")
}

// slowHost is a fresh install with slowDelay more on the last host, at the
// first RTT, against one just before it through the same relay with nothing
// more on that host: both runs' bytes take the relay's user-space copy, so
// only the slow host differs. The other hosts' own times are compared.
func (b *bench) slowHost(base *rttSet, fleet []harness.Host) (*slowResult, error) {
	slow := fleet[len(fleet)-1]
	res := &slowResult{slowName: slow.Name}
	if err := b.writeInventory(fleet); err != nil {
		return nil, err
	}
	install := func(name string, extra time.Duration) (sample, error) {
		if err := b.lat.set(base.rtt, map[string]time.Duration{slow.Address: extra}); err != nil {
			return sample{}, err
		}
		s, err := b.r.run(name, "apply", "--json")
		if lerr := b.lat.set(0, nil); err == nil {
			err = lerr
		}
		return s, err
	}
	progress("fresh install through the relay, %s not slowed (the comparison)", slow.Name)
	s, err := install("fresh-relayed", 0)
	if err != nil {
		return nil, err
	}
	if s.rep != nil {
		res.without = s.rep.slowestExcept(slow.Name)
	}
	if err := b.freshen(len(fleet) + 1); err != nil {
		return nil, err
	}
	fleet = b.c.Hosts[:len(fleet)]
	progress("fresh install with %s slow (%s more)", slow.Name, ms(slowDelay))
	s, err = install("fresh-slow-"+slow.Name, slowDelay)
	if err != nil {
		return nil, err
	}
	if s.rep != nil {
		res.with = s.rep.slowestExcept(slow.Name)
	}
	fmt.Fprintf(b.out, "\n## One slow host\n\nFresh install of %s at %s with %s more round trip to %s: the slowest of the other hosts took %.2f s of its own time (`--json` `seconds`), against %.2f s in a fresh install just before it through the same relay without the extra delay (%.2f×); the whole run took %.2f s.\n",
		nHosts(len(fleet)), ms(base.rtt), ms(slowDelay), slow.Name, res.with, res.without, ratioOf(res.with, res.without), s.secs)
	return res, nil
}

func ratioOf(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// deadHost powers the fleet's last host off and times status, plan and
// remove-host, with the baseline binary too when one is given.
func (b *bench) deadHost(fleet []harness.Host) error {
	dead := fleet[len(fleet)-1]
	progress("powering %s off", dead.Name)
	if err := b.c.StopHost(dead.Name); err != nil {
		return err
	}
	type bin struct {
		label string
		r     *runner
	}
	bins := []bin{{"this obsbox", b.r}}
	if b.cfg.baseline != "" {
		base := *b.r
		base.bin = b.cfg.baseline
		bins = append([]bin{{"baseline", &base}}, bins...)
	}
	cmds := [][]string{{"status"}, {"plan"}, {"remove-host", dead.Name, "--yes", "--force"}}
	times := map[string][]string{}
	for _, bn := range bins {
		for _, c := range cmds {
			if err := b.writeInventory(fleet); err != nil {
				return err
			}
			progress("%s: %s with %s powered off", bn.label, c[0], dead.Name)
			s, err := bn.r.run("dead-"+c[0], c...)
			cell := fmt.Sprintf("%.2f", s.secs)
			if err != nil {
				cell += " (exit ≠ 0)"
			}
			times[c[0]] = append(times[c[0]], cell)
		}
		// remove-host dropped the host's target: put it back, untimed, with
		// this obsbox (an older one may have left the stack in clear text).
		if err := b.writeInventory(fleet); err != nil {
			return err
		}
		if _, err := b.r.run("dead-restore", "apply", "--hosts", fleet[0].Name); err != nil {
			progress("putting %s's target back: %s", dead.Name, strings.SplitN(err.Error(), "\n", 2)[0])
		}
	}
	header := []string{"command, " + dead.Name + " powered off"}
	for _, bn := range bins {
		header = append(header, bn.label+" (s)")
	}
	var rows [][]string
	for _, c := range cmds {
		rows = append(rows, append([]string{"`" + strings.Join(c, " ") + "`"}, times[c[0]]...))
	}
	fmt.Fprintf(b.out, "\n## One host powered off\n\n%s of %s stopped (its address answers nothing: no ARP reply), default connect timeout:\n\n", dead.Name, nHosts(len(fleet)))
	fmt.Fprint(b.out, markdown(header, rows))
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }

// freshen returns the hosts to the state before the first apply: with
// obsbox uninstall when the binary has it, else (or when it fails, in auto
// mode) by booting fresh hosts. How it was done is said under the table.
func (b *bench) freshen(n int) error {
	how := b.cfg.between
	if how == "auto" && !b.cmds["uninstall"] {
		how = "reboot"
		b.noteFresh("fresh hosts booted (this obsbox has no `uninstall`)")
	}
	if how != "reboot" {
		progress("uninstalling")
		_, err := b.r.run("uninstall", "uninstall", "--yes")
		if err == nil {
			b.noteFresh("`obsbox uninstall --yes`")
			return nil
		}
		if b.cfg.between == "uninstall" {
			return err
		}
		progress("uninstall failed, booting fresh hosts instead: %s", strings.SplitN(err.Error(), "\n", 2)[0])
		b.noteFresh("fresh hosts booted (`obsbox uninstall --yes` failed, see " + b.r.lastLog + ")")
	}
	if b.cfg.between == "reboot" {
		b.noteFresh("fresh hosts booted (-between reboot)")
	}
	b.down()
	return b.boot(n)
}

func (b *bench) noteFresh(s string) {
	if !slices.Contains(b.fresh, s) {
		b.fresh = append(b.fresh, s)
	}
}

// check looks at one run's report and says what makes it not what the row claims.
type check func(*report) string

func checkFresh(rep *report) string {
	var none []string
	for _, h := range rep.Hosts {
		if h.Uploaded == 0 {
			none = append(none, h.Host)
		}
	}
	if len(none) > 0 {
		return "hosts were not fresh, nothing was sent to " + strings.Join(none, ", ")
	}
	return ""
}

func checkNoop(rep *report) string {
	if n := rep.actions(); n > 0 {
		return fmt.Sprintf("not a no-op: %d actions", n)
	}
	return ""
}

// addFloor adds one measurement of the scenario's floor.
func (s *scenario) addFloor(t took) {
	s.floor = append(s.floor, t.secs)
	s.floorCPU = append(s.floorCPU, t.cpu)
}

func (s *scenario) add(x sample, c check) {
	s.runs = append(s.runs, x)
	note := x.noRep
	if x.rep != nil && c != nil {
		note = c(x.rep)
	}
	if note != "" && !slices.Contains(s.notes, note) {
		s.notes = append(s.notes, note)
	}
}

// scaleResult is the scale run: a fresh install of the largest fleet, then
// no-op applies on its first k hosts for each size.
type scaleResult struct {
	largest int
	fresh   sample
	noop    map[int]*scenario
}

func (b *bench) scaleTable() (*scaleResult, error) {
	sizes := b.cfg.scale
	largest := sizes[len(sizes)-1]
	if err := b.boot(largest); err != nil {
		return nil, err
	}
	defer b.down()
	hosts := b.c.Hosts
	res := &scaleResult{largest: largest, noop: map[int]*scenario{}}

	if err := b.writeInventory(hosts); err != nil {
		return nil, err
	}
	progress("scale: fresh install of %s", nHosts(largest))
	s, err := b.r.run(fmt.Sprintf("scale-fresh-%d", largest), "apply", "--json")
	if err != nil {
		return nil, err
	}
	res.fresh = s

	// Largest first: a smaller inventory only changes Prometheus's targets,
	// which one settling apply takes care of before the timed runs.
	for i := len(sizes) - 1; i >= 0; i-- {
		k := sizes[i]
		sc := &scenario{name: fmt.Sprintf("%d", k)}
		res.noop[k] = sc
		if err := b.writeInventory(hosts[:k]); err != nil {
			return nil, err
		}
		if k != largest {
			if _, err := b.r.run(fmt.Sprintf("scale-settle-%d", k), "apply", "--json"); err != nil {
				return nil, err
			}
		}
		progress("scale: no-op apply on %s", nHosts(k))
		for round := 0; round < b.cfg.runs; round++ {
			t, err := b.fl.sshTrue(hosts[:k])
			if err != nil {
				return nil, fmt.Errorf("no-op floor: %w", err)
			}
			sc.addFloor(t)
			s, err := b.r.run(fmt.Sprintf("scale-noop-%d", k), "apply", "--json")
			if err != nil {
				return nil, err
			}
			sc.add(s, checkNoop)
		}
	}

	header := []string{"hosts", "no-op apply (median s)", "per host", "floor: ssh true (median s)", "× floor", "SSH round trips per host", "peak RSS"}
	var rows [][]string
	for _, k := range sizes {
		sc := res.noop[k]
		med := median(sc.secs())
		row := sc.row()
		rows = append(rows, []string{strconv.Itoa(k), row[1], fmt.Sprintf("%.0f ms", 1000*med/float64(k)), row[2], row[3], row[5], row[6]})
	}
	fmt.Fprintf(b.out, "\n## Scale: no-op apply on the first N of %d hosts\n\n", largest)
	fmt.Fprint(b.out, markdown(header, rows))
	var scs []*scenario
	for _, k := range sizes {
		scs = append(scs, res.noop[k])
	}
	ph, prow := phaseTable("hosts", scs, func(s *scenario) string { return s.name })
	fmt.Fprintf(b.out, "\nSeconds per phase of the median no-op apply:\n\n")
	fmt.Fprint(b.out, markdown(ph, prow))
	fmt.Fprintf(b.out, "\nFresh install of all %d hosts (one run): %.2f s, %.0f ms per host, peak RSS %s.\n",
		largest, res.fresh.secs, 1000*res.fresh.secs/float64(largest), megabytes(res.fresh.rssKB*1024))
	for _, k := range sizes {
		for _, note := range res.noop[k].notes {
			fmt.Fprintf(b.out, "\n**%s**: %s\n", nHosts(k), note)
		}
	}
	return res, nil
}

// goals prints issue 17's acceptance with what this run measured.
func (b *bench) goals(main *mainResult, sc *scaleResult) {
	var gs []goal
	for _, set := range main.sets {
		gs = append(gs,
			ratioGoal(fmt.Sprintf("%s: fresh install within 1.5× its floor", ms(set.rtt)), set.fresh, 1.5),
			ratioGoal(fmt.Sprintf("%s: no-op apply within 1.5× its floor", ms(set.rtt)), set.noop, 1.5))
	}
	last := main.sets[len(main.sets)-1]
	gs = append(gs, roundTripGoal(fmt.Sprintf("%s: no-op apply, one round trip per host (root)", ms(last.rtt)), last.noop, 1))
	if sl := main.slow; sl != nil {
		r := ratioOf(sl.with, sl.without)
		gs = append(gs, goal{what: fmt.Sprintf("one host %s slower: the others within 1.2× of their time without it", ms(slowDelay)),
			actual: fmt.Sprintf("%.2f×", r), met: r > 0 && r <= 1.2, known: r > 0})
	}
	const rssHosts = 50
	var rssRuns [][]sample
	if sc != nil && sc.noop[rssHosts] != nil {
		rssRuns = append(rssRuns, sc.noop[rssHosts].runs)
		if sc.largest == rssHosts {
			rssRuns = append(rssRuns, []sample{sc.fresh})
		}
	}
	gs = append(gs, rssGoal(fmt.Sprintf("peak RSS under 100 MB at %d hosts", rssHosts), 100e6, rssRuns...))
	fmt.Fprintf(b.out, "\n## Goals (issue 17)\n\n")
	for _, g := range gs {
		fmt.Fprintln(b.out, g)
	}
}
