// Command chatd runs the chat.v1 chat server.
//
//	chatd --addr 127.0.0.1:8000
//
// Every flag can also be set with an environment variable: --history-ttl is
// CHATD_HISTORY_TTL. Flags given on the command line win. See chatd --help.
package main

import (
	"context"
	"os"
)

func main() {
	os.Exit(run(context.Background(), runEnv{
		args:   os.Args[1:],
		getenv: os.Getenv,
		stdout: os.Stdout,
		stderr: os.Stderr,
	}))
}
