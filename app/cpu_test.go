package app_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuSample is the CPU time used so far by this process and by the
// services' processes, read from getrusage and /proc/<pid>/stat.
type cpuSample struct {
	self time.Duration
	// procs are the services' processes by pid, so that a process that
	// started between two samples counts from zero and one that exited is
	// dropped.
	procs map[int]procTime
}

// procTime is one service process's CPU time so far.
type procTime struct {
	component component
	cpu       time.Duration
}

type component int

const (
	// pgOwn is the PostgreSQL backends connected to the benchmark's
	// database.
	pgOwn component = iota
	// pgAux is the server's own processes (postmaster, WAL writer,
	// checkpointer, background writer, autovacuum), shared by every
	// database.
	pgAux
	// redisServer is every redis-server process: server-wide, other
	// clients included.
	redisServer
)

// cpuUsage is CPU time between two samples, by component.
type cpuUsage struct {
	self, pgOwn, pgAux, redis time.Duration
}

func (u cpuUsage) total() time.Duration { return u.self + u.pgOwn + u.pgAux + u.redis }

// clockTick is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on
// every Linux architecture Go runs on.
const clockTick = 10 * time.Millisecond

// sampleCPU reads the CPU time of this process, of the PostgreSQL
// processes (backends of database ownDB and the server's own) and of
// Redis. Processes it may not read are skipped.
func sampleCPU(ownDB string) cpuSample {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	s := cpuSample{self: time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), procs: map[int]procTime{}}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range dirs {
		comm, err := os.ReadFile(dir + "/comm")
		if err != nil {
			continue
		}
		var c component
		switch strings.TrimSpace(string(comm)) {
		case "redis-server":
			c = redisServer
		case "postgres":
			title := pgTitle(dir)
			switch {
			case strings.Contains(title, " "+ownDB+" "):
				c = pgOwn
			case pgAuxiliary(title):
				c = pgAux
			default:
				continue // another database's backend
			}
		default:
			continue
		}
		if cpu, ok := procCPU(dir); ok {
			pid, _ := strconv.Atoi(filepath.Base(dir))
			s.procs[pid] = procTime{c, cpu}
		}
	}
	return s
}

// since is the CPU used from an earlier sample to this one. A service
// process that exited in between is left out; one that started counts
// from zero.
func (s cpuSample) since(before cpuSample) cpuUsage {
	u := cpuUsage{self: s.self - before.self}
	for pid, p := range s.procs {
		u.add(p.component, p.cpu-before.cpuOf(pid, p.component))
	}
	return u
}

// cpuOf is a process's CPU time in the sample, zero if it was not running
// then (or was another process under the same pid).
func (s cpuSample) cpuOf(pid int, c component) time.Duration {
	if b, ok := s.procs[pid]; ok && b.component == c {
		return b.cpu
	}
	return 0
}

func (u *cpuUsage) add(c component, d time.Duration) {
	switch c {
	case pgOwn:
		u.pgOwn += d
	case pgAux:
		u.pgAux += d
	case redisServer:
		u.redis += d
	}
}

// cpuMeter measures CPU from start to stop. Between the two it follows the
// PostgreSQL backends of the database every 50 ms, so that one that exits
// mid-run (a pool closing a connection it may not keep idle) still counts
// up to its last reading; a backend that lives less than that is missed.
// Its own readings run on a thread of their own, whose CPU is taken off
// this process's.
type cpuMeter struct {
	database string
	from     cpuSample
	// postmasters are the PostgreSQL servers' parent processes.
	postmasters []int
	// last is each backend of the database's last reading.
	last    map[int]time.Duration
	stopped chan struct{}
	done    chan time.Duration // the sampling thread's CPU
}

func startCPUMeter(database string) *cpuMeter {
	m := &cpuMeter{database: database, from: sampleCPU(database), last: map[int]time.Duration{},
		stopped: make(chan struct{}), done: make(chan time.Duration)}
	for pid := range m.from.procs {
		if m.from.procs[pid].component == pgAux && !strings.HasPrefix(pgTitle(procDir(pid)), "postgres:") {
			m.postmasters = append(m.postmasters, pid)
		}
	}
	go m.follow()
	return m
}

func procDir(pid int) string { return "/proc/" + strconv.Itoa(pid) }

func (m *cpuMeter) follow() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	threadFrom, _ := procCPU("/proc/thread-self")
	kind := map[int]bool{} // pid -> a backend of the database
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-m.stopped:
			threadTo, _ := procCPU("/proc/thread-self")
			m.done <- threadTo - threadFrom
			return
		case <-tick.C:
		}
		for _, pm := range m.postmasters {
			children, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pm, pm))
			for _, f := range strings.Fields(string(children)) {
				pid, _ := strconv.Atoi(f)
				own, known := kind[pid]
				if !known {
					title := pgTitle(procDir(pid))
					own = strings.Contains(title, " "+m.database+" ")
					// A child just forked still has the postmaster's
					// title: look again next time.
					if strings.HasPrefix(title, "postgres:") {
						kind[pid] = own
					}
				}
				if cpu, ok := procCPU(procDir(pid)); ok && own {
					m.last[pid] = cpu
				}
			}
		}
	}
}

// stop ends the measurement and returns the CPU used since start.
func (m *cpuMeter) stop() cpuUsage {
	to := sampleCPU(m.database)
	close(m.stopped)
	u := to.since(m.from)
	u.self -= <-m.done
	for pid, cpu := range m.last {
		if _, running := to.procs[pid]; !running {
			u.pgOwn += cpu - m.from.cpuOf(pid, pgOwn)
		}
	}
	return u
}

// procCPU is a process's utime+stime from /proc/<pid>/stat.
func procCPU(dir string) (time.Duration, bool) {
	raw, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name, field 2, is in parentheses and may hold spaces:
	// count fields after the last ')'. utime and stime are fields 14, 15.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(ut+st) * clockTick, true
}

// pgTitle is a PostgreSQL process's title ("postgres: 15/main: postgres
// aibud_t_… 127.0.0.1(39690) idle").
func pgTitle(dir string) string {
	raw, _ := os.ReadFile(dir + "/cmdline")
	return strings.TrimSpace(strings.ReplaceAll(string(raw), "\x00", " "))
}

// pgAuxiliary tells the server's own processes from other databases'
// backends by their titles.
func pgAuxiliary(title string) bool {
	if !strings.HasPrefix(title, "postgres:") {
		return true // the postmaster, titled by its command line
	}
	for _, w := range []string{"checkpointer", "background writer", "walwriter", "autovacuum", "logical replication", "stats", "archiver"} {
		if strings.Contains(title, ": "+w) {
			return true
		}
	}
	return false
}
