// Command vcbench is a load generator for a running vcd. Each subcommand
// measures one thing:
//
//	vcbench fanout   N clients in one room, a sender at a fixed rate: deliveries/s, p50/p99 latency
//	vcbench idle     N idle sockets: vcd RSS per socket
//	vcbench persist  many senders as fast as acks allow: persisted messages/s
//	vcbench call     two voice-call engines: set-up time, one-way latency, CPU per participant
//	vcbench ai       AI replies against a fake provider: time to first token, concurrent streamed replies
//	vcbench floor    the fanout traffic from a minimal writer process instead of vcd: this machine's floor
//	vcbench failover clients behind a load balancer while a cluster node is killed: time to be back, gaps, duplicates
//
// Run vcd in its own process (10 000 sockets need two processes under a
// 20 000 open-file limit). vcbench registers its own users; start vcd with
// the auth rate limit and the socket caps lifted (every socket comes from
// one IP), for example
//
//	VCD_RATE_LIMIT_AUTH_PER_MINUTE=0 VCD_REALTIME_MAX_SOCKETS_PER_USER=0 VCD_HTTP_MAX_CONNS_PER_IP=0 VCD_BCRYPT_COST=4 vcd
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one vcbench subcommand. Subcommands live in their own files and
// are listed once in commands.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, out io.Writer) error
}

// commands lists the subcommands; add one line per new subcommand file.
func commands() []command {
	return []command{
		fanoutCommand(),
		idleCommand(),
		persistCommand(),
		callCommand(),
		aiCommand(),
		floorCommand(),
		floorWriterCommand(),
		failoverCommand(),
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vcbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out, errOut io.Writer) error {
	cmds := commands()
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	usage := func() {
		fmt.Fprintln(errOut, "usage: vcbench <command> [flags]\n\ncommands:")
		for _, c := range cmds {
			fmt.Fprintf(errOut, "  %-10s %s\n", c.name, c.summary)
		}
		fmt.Fprintln(errOut, "\nvcbench <command> -h shows the flags of a command.")
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage()
		return flag.ErrHelp
	}
	for _, c := range cmds {
		if c.name == args[0] {
			return c.run(ctx, args[1:], out)
		}
	}
	usage()
	return fmt.Errorf("unknown command %q", args[0])
}
