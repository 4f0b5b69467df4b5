// Command vc is the Virtual Company CLI: rooms, AI roles, messages and
// one-shot AI answers for people and scripts, plus the chat TUI (vc chat) and
// voice calls (vc call). It talks to vcd only through the client package.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	// Keeps Bubble Tea's init from asking the terminal anything (5 s in
	// terminals that do not answer); see the package comment.
	_ "github.com/virtual-company/vc/cmd/vc/internal/termguard/restore"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// run executes the command line and returns the exit code.
func run(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := newApp()
	root := newRootCmd(a)
	root.SetArgs(normalizeJSONFlag(args))
	err := root.ExecuteContext(ctx)
	if err != nil {
		srv, _ := a.server()
		if line := errorLine(ctx, err, srv); line != "" {
			fmt.Fprintln(a.errOut, line)
		}
	}
	return exitCode(ctx, err)
}
