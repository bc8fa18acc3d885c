//go:build !linux

package server

import "syscall"

// processPoller is the poller of platforms without one: every session reads
// in a goroutine of its own.
var processPoller noPoller

type noPoller struct{}

func (noPoller) watch(syscall.RawConn, func()) (watcher, error) { return nil, errNoPoller }
