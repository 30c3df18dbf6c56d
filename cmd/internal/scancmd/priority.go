package scancmd

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// parsePriority checks a --priority value: the CPU scheduling the scan runs
// at. A scan is background work beside a projector answering queries on the
// same cores, so by default it runs at idle priority (SCHED_IDLE), as
// desktop indexers do: it takes only CPU time that nothing else wants, and
// runs at full speed on an otherwise idle machine. low is nice 19, normal
// leaves the process as it was started.
func parsePriority(p string) error {
	switch p {
	case "idle", "low", "normal":
		return nil
	}
	return fmt.Errorf("--priority %q: want idle, low or normal", p)
}

// setPriority gives every thread of this process the CPU priority p (see
// parsePriority). Linux schedules threads, not processes, and a new thread
// inherits the priority of the thread that made it, so each existing
// thread is set, until a pass finds none it has not set.
func setPriority(p string) error {
	if err := parsePriority(p); err != nil {
		return err
	}
	if p == "normal" {
		return nil
	}
	done := map[int]bool{}
	for {
		ents, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return fmt.Errorf("--priority %s: %w", p, err)
		}
		fresh := 0
		for _, e := range ents {
			tid, err := strconv.Atoi(e.Name())
			if err != nil || done[tid] {
				continue
			}
			switch p {
			case "idle":
				err = unix.SchedSetAttr(tid, &unix.SchedAttr{Policy: unix.SCHED_IDLE}, 0)
			case "low":
				err = unix.Setpriority(unix.PRIO_PROCESS, tid, 19)
			}
			if err == unix.ESRCH {
				err = nil // the thread ended meanwhile
			}
			if err != nil {
				return fmt.Errorf("--priority %s: thread %d: %w (try --priority normal)", p, tid, err)
			}
			done[tid] = true
			fresh++
		}
		if fresh == 0 {
			return nil
		}
	}
}
