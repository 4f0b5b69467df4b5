package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/term"
)

// needFlag is the error of a command that would have to prompt while stdin
// is not a terminal: it names the flag to use instead.
func needFlag(what, flag string) error {
	return fmt.Errorf("%s required: pass %s (stdin is not a terminal, so vc does not prompt)", what, flag)
}

// lineReader returns the one buffered reader of stdin, so that consecutive
// prompts do not lose buffered input.
func (a *app) lineReader() *bufio.Reader {
	if a.stdinBuf == nil {
		a.stdinBuf = bufio.NewReader(a.in)
	}
	return a.stdinBuf
}

// promptLine asks for one line on the terminal; without a terminal it fails
// naming flag. def is used for an empty answer.
func (a *app) promptLine(ctx context.Context, label, def, flag string) (string, error) {
	if !a.stdinTTY {
		return "", needFlag(label, flag)
	}
	st := a.errStyles()
	q := st.bold.Render(label)
	if def != "" {
		q += st.dim.Render(" [" + def + "]")
	}
	fmt.Fprint(a.errOut, "? "+q+": ")
	type res struct {
		s   string
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := a.lineReader().ReadString('\n')
		ch <- res{s, err}
	}()
	select {
	case <-ctx.Done():
		fmt.Fprintln(a.errOut)
		return "", errCancelled
	case r := <-ch:
		if r.err != nil && (r.s == "" || !errors.Is(r.err, io.EOF)) {
			fmt.Fprintln(a.errOut)
			if errors.Is(r.err, io.EOF) {
				return "", errCancelled
			}
			return "", fmt.Errorf("read %s: %w", label, r.err)
		}
		s := strings.TrimSpace(r.s)
		if s == "" {
			s = def
		}
		return s, nil
	}
}

// promptSecret asks for a secret on the terminal without echo; without a
// terminal it fails naming flag.
func (a *app) promptSecret(ctx context.Context, label, flag string) (string, error) {
	if !a.stdinTTY || a.stdinFd < 0 {
		return "", needFlag(label, flag)
	}
	fmt.Fprint(a.errOut, "? "+a.errStyles().bold.Render(label)+": ")
	old, err := term.GetState(a.stdinFd)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", label, err)
	}
	type res struct {
		b   []byte
		err error
	}
	ch := make(chan res, 1)
	go func() {
		b, err := term.ReadPassword(a.stdinFd)
		ch <- res{b, err}
	}()
	select {
	case <-ctx.Done():
		_ = term.Restore(a.stdinFd, old)
		fmt.Fprintln(a.errOut)
		return "", errCancelled
	case r := <-ch:
		fmt.Fprintln(a.errOut)
		if r.err != nil {
			return "", fmt.Errorf("read %s: %w", label, r.err)
		}
		return string(r.b), nil
	}
}

// confirm asks a yes/no question on the terminal; without a terminal it
// fails naming flag (usually --yes).
func (a *app) confirm(ctx context.Context, question, flag string) error {
	ans, err := a.promptLine(ctx, question+" (y/N)", "", flag)
	if err != nil {
		if !a.stdinTTY {
			return fmt.Errorf("confirmation required: pass %s (stdin is not a terminal, so vc does not prompt)", flag)
		}
		return err
	}
	switch strings.ToLower(ans) {
	case "y", "yes":
		return nil
	}
	return errCancelled
}

// readStdin reads all of stdin (up to limit bytes).
func (a *app) readStdin(limit int64) (string, error) {
	b, err := io.ReadAll(io.LimitReader(a.lineReader(), limit+1))
	if err != nil {
		return "", fmt.Errorf("read stdin: %w", err)
	}
	if int64(len(b)) > limit {
		return "", fmt.Errorf("read stdin: more than %d bytes", limit)
	}
	return string(b), nil
}

// readSecretStdin reads a password, token or key from stdin: the first line
// without its line ending.
func (a *app) readSecretStdin(what string) (string, error) {
	s, err := a.readStdin(64 << 10)
	if err != nil {
		return "", err
	}
	s, _, _ = strings.Cut(s, "\n")
	s = strings.TrimRight(s, "\r")
	if s == "" {
		return "", fmt.Errorf("%s on stdin is empty", what)
	}
	return s, nil
}
