package main

import (
	"fmt"
	"sync"
	"time"
)

// spinnerDelay keeps quick calls from flashing a spinner.
const spinnerDelay = 150 * time.Millisecond

// spin shows a spinner with label on stderr while a long wait runs, on a
// terminal only. The returned stop clears it; it is safe to call twice.
func (a *app) spin(label string) (stop func()) {
	if !a.stderrTTY {
		return func() {}
	}
	frames := []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}
	st := a.errStyles()
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTimer(spinnerDelay)
		defer t.Stop()
		shown := false
		for i := 0; ; i++ {
			select {
			case <-done:
				if shown {
					fmt.Fprint(a.errOut, "\r\033[K")
				}
				return
			case <-t.C:
				shown = true
				fmt.Fprintf(a.errOut, "\r%s %s", st.accent.Render(frames[i%len(frames)]), st.dim.Render(label))
				t.Reset(80 * time.Millisecond)
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			<-finished
		})
	}
}
