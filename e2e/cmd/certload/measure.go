//go:build e2e

package main

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clockTick is the unit of the CPU times in /proc/<pid>/stat (USER_HZ, 100
// on every Linux build we run on).
const clockTick = 10 * time.Millisecond

// procStat is what /proc/<pid>/stat says of one process.
type procStat struct {
	pid, ppid int
	// self is the CPU the process used; children that of its children that
	// have exited and been reaped (a PostgreSQL backend that closed).
	self, children time.Duration
}

// readProcStat parses /proc/<pid>/stat. The command name may hold spaces
// and parentheses, so the fields are counted from the last ')'.
func readProcStat(pid int) (procStat, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	text := string(data)
	end := strings.LastIndexByte(text, ')')
	if end < 0 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	fields := strings.Fields(text[end+1:])
	// fields[0] is field 3 of proc(5): state; ppid is 4, utime..cstime 14..17.
	if len(fields) < 15 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(fields))
	}
	num := func(field int) int64 {
		n, _ := strconv.ParseInt(fields[field-3], 10, 64)
		return n
	}
	return procStat{
		pid:      pid,
		ppid:     int(num(4)),
		self:     time.Duration(num(14)+num(15)) * clockTick,
		children: time.Duration(num(16)+num(17)) * clockTick,
	}, nil
}

// allProcesses reads the stat of every process on the machine.
func allProcesses() map[int]procStat {
	entries, _ := os.ReadDir("/proc")
	procs := make(map[int]procStat, len(entries))
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readProcStat(pid); err == nil {
			procs[pid] = st
		}
	}
	return procs
}

// cpuSample is the CPU used so far by the server's processes.
type cpuSample struct {
	// mattermost is the server process alone, plugin its plugin processes,
	// postgres the postmaster with every backend.
	mattermost, plugin, postgres time.Duration
}

func (s cpuSample) total() time.Duration { return s.mattermost + s.plugin + s.postgres }

func (s cpuSample) sub(o cpuSample) cpuSample {
	return cpuSample{mattermost: s.mattermost - o.mattermost, plugin: s.plugin - o.plugin, postgres: s.postgres - o.postgres}
}

func (s cpuSample) div(n int) cpuSample {
	if n <= 0 {
		return cpuSample{}
	}
	d := time.Duration(n)
	return cpuSample{mattermost: s.mattermost / d, plugin: s.plugin / d, postgres: s.postgres / d}
}

// cpuMeter samples the CPU of the Mattermost process tree and of the
// PostgreSQL tree. A zero pid is not measured.
type cpuMeter struct {
	mattermostPID, postgresPID int
}

func (m cpuMeter) known() bool { return m.mattermostPID != 0 }

// sample counts each tree: its root with its reaped children, and every
// live descendant the same way.
func (m cpuMeter) sample() cpuSample {
	if !m.known() {
		return cpuSample{}
	}
	procs := allProcesses()
	children := map[int][]int{}
	for pid, st := range procs {
		children[st.ppid] = append(children[st.ppid], pid)
	}
	var tree func(pid int) time.Duration
	tree = func(pid int) time.Duration {
		st, ok := procs[pid]
		if !ok {
			return 0
		}
		sum := st.self + st.children
		for _, child := range children[pid] {
			sum += tree(child)
		}
		return sum
	}
	var s cpuSample
	if mm, ok := procs[m.mattermostPID]; ok {
		s.mattermost = mm.self + mm.children
		for _, child := range children[m.mattermostPID] {
			s.plugin += tree(child)
		}
	}
	if m.postgresPID != 0 {
		s.postgres = tree(m.postgresPID)
	}
	return s
}

// ownCPU is the CPU this process has used so far.
func ownCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineBusy reads from the first line of /proc/stat the time all CPUs
// have been busy, the time the hypervisor gave to other machines (steal),
// and the time in all, since boot.
func machineBusy() (busy, steal, all time.Duration) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	fields := strings.Fields(line)
	if len(fields) < 9 || fields[0] != "cpu" {
		return 0, 0, 0
	}
	// user nice system idle iowait irq softirq steal [guest guest_nice]:
	// guest time is already in user.
	for i, f := range fields[1:9] {
		n, _ := strconv.ParseInt(f, 10, 64)
		d := time.Duration(n) * clockTick
		all += d
		switch i {
		case 3, 4: // idle, iowait
		case 7:
			steal += d
		default:
			busy += d
		}
	}
	return busy, steal, all
}

// utilization is how the machine's CPUs spent their time between two
// readings.
type utilization struct{ busy, steal, all time.Duration }

func readUtilization() utilization {
	busy, steal, all := machineBusy()
	return utilization{busy: busy, steal: steal, all: all}
}

// since gives the busy and the stolen share of the time since start.
func (u utilization) since(start utilization) (busy, steal float64) {
	if u.all <= start.all {
		return 0, 0
	}
	all := float64(u.all - start.all)
	return float64(u.busy-start.busy) / all, float64(u.steal-start.steal) / all
}

// latencies collects durations from many goroutines.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// percentile is the nearest-rank percentile p (0-100).
func (l *latencies) percentile(p float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return 0
	}
	sorted := slices.Clone(l.d)
	slices.Sort(sorted)
	rank := int(p/100*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

// runAll runs work(i) for i in [0, n) on concurrency goroutines and returns
// the wall time.
func runAll(n, concurrency int, work func(i int)) time.Duration {
	jobs := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range max(1, concurrency) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				work(i)
			}
		}()
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return time.Since(start)
}

// machine describes where the figures come from.
func machine() string {
	model := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if name, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
				break
			}
		}
	}
	mem := ""
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(data), "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf(", %.0f GiB", float64(kb)/(1<<20))
		}
	}
	kernel := ""
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = ", Linux " + strings.TrimSpace(string(data))
	}
	return fmt.Sprintf("%s, %d cores%s%s", model, runtime.NumCPU(), mem, kernel)
}
