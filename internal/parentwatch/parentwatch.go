// Package parentwatch tells a plugin process that the process which started
// it is gone. Terraform and OpenTofu stop their providers when they exit
// normally, but a CLI killed with SIGKILL cannot: its providers would keep
// serving nobody, holding the store and libvirt connections open. The
// orphan is reparented (to init or a subreaper), so a changed parent pid is
// the sign. Polling is used instead of PR_SET_PDEATHSIG, which fires when
// the parent's thread that started us exits, not the parent process.
package parentwatch

import (
	"os"
	"sync"
	"time"
)

// Interval is how often Start looks at the parent pid: a second keeps the
// cost nil and the orphan's life short.
const Interval = time.Second

// Start records the current parent pid now and then polls it every
// interval; when it has changed, gone is called once, in the watching
// goroutine, with the pid of the parent that is gone. stop ends the watch
// (it does not wait for a running gone).
func Start(interval time.Duration, gone func(parent int)) (stop func()) {
	return start(interval, os.Getppid, gone)
}

// start is Start with the pid source injected, so the loop is testable
// without a dying parent.
func start(interval time.Duration, getppid func() int, gone func(parent int)) (stop func()) {
	parent := getppid()
	done := make(chan struct{})
	go watch(interval, parent, getppid, gone, done)
	var once sync.Once
	return func() { once.Do(func() { close(done) }) }
}

func watch(interval time.Duration, parent int, getppid func() int, gone func(int), done <-chan struct{}) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		if getppid() != parent {
			gone(parent)
			return
		}
	}
}
