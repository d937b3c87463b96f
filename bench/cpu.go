package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// The controller, the relay and every test host share this machine's
// CPUs, so a run's busy CPU time over all of them says whether its wall
// time was the network's or the CPUs': near NumCPU × wall time, the CPUs
// were the limit, and a real fleet (each host with its own) would go faster.

// clockTicks is USER_HZ, the unit of /proc/stat: 100 on every Linux ABI
// Go supports.
const clockTicks = 100

// machineBusy is the CPU time every CPU of the machine has spent busy since
// boot (user, nice, system, irq and softirq; idle, iowait and steal are not
// this machine's work).
func machineBusy() (time.Duration, error) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	return parseBusy(string(raw))
}

func parseBusy(stat string) (time.Duration, error) {
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: first line %q is not the cpu total", line)
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7} { // user nice system (idle iowait) irq softirq
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: field %d of %q: %v", i, line, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// took is what one measured run cost: its wall time and the machine's busy
// CPU time over it (zero when /proc/stat could not be read).
type took struct{ secs, cpu float64 }

// timed runs do and measures it.
func timed(do func() error) (took, error) {
	before, berr := machineBusy()
	start := time.Now()
	err := do()
	t := took{secs: time.Since(start).Seconds()}
	if after, aerr := machineBusy(); berr == nil && aerr == nil {
		t.cpu = (after - before).Seconds()
	}
	return t, err
}
