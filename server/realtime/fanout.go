package realtime

import (
	"sync"
	"sync/atomic"
)

// fanoutPool writes the events of big rooms from a few long-lived workers,
// so that a publish returns at once and one event for a thousand sockets
// is written by as many workers as there are CPUs instead of by a
// thousand freshly started goroutines.
//
// Order: each subscription belongs to one shard of its room for its whole
// life, and each shard is always handed to the same worker, whose jobs run
// in the order they were queued; so the events of one socket leave in the
// order the room dispatched them.
type fanoutPool struct {
	start sync.Once
	stop  sync.Once
	jobs  []chan fanoutJob
	quit  chan struct{}
	// running: the workers were started; stopped: dispatch writes inline
	// from now on.
	running, stopped atomic.Bool
	done             sync.WaitGroup
}

// fanoutJob is one event for the subscribers of one shard (or a barrier
// when subs and room are nil).
type fanoutJob struct {
	q       queued
	subs    []*Subscription
	except  *Subscription
	room    *hubRoom
	barrier chan<- struct{}
}

func newFanoutPool(workers, depth int) *fanoutPool {
	p := &fanoutPool{jobs: make([]chan fanoutJob, workers), quit: make(chan struct{})}
	for i := range p.jobs {
		p.jobs[i] = make(chan fanoutJob, depth)
	}
	return p
}

// workers is the number of shards a room is split into.
func (p *fanoutPool) workers() int { return len(p.jobs) }

// dispatch hands a job to the worker of shard i. It reports false when the
// pool is stopped (the caller then writes inline). It blocks while that
// worker's queue is full, which only happens when the machine is out of CPU
// (workers never wait on a socket).
func (p *fanoutPool) dispatch(i int, j fanoutJob) bool {
	if p.stopped.Load() {
		return false
	}
	p.start.Do(func() {
		p.running.Store(true)
		for _, ch := range p.jobs {
			p.done.Add(1)
			go p.work(ch)
		}
	})
	select {
	case p.jobs[i] <- j:
		return true
	case <-p.quit:
		return false
	}
}

func (p *fanoutPool) work(jobs <-chan fanoutJob) {
	defer p.done.Done()
	var batch []fanoutJob
	var w batchWriter
	for {
		select {
		case j := <-jobs:
			batch = append(batch[:0], j)
		case <-p.quit:
			return
		}
		// Take what else waits: when the workers are behind, consecutive
		// events for the same sockets go out in one write per socket, and
		// a write costs far more than its bytes.
	more:
		for len(batch) < maxBatch {
			select {
			case j := <-jobs:
				batch = append(batch, j)
			default:
				break more
			}
		}
		for len(batch) > 0 {
			n := groupLen(batch)
			w.run(batch[:n])
			batch = batch[n:]
		}
		clear(batch[:cap(batch)])
	}
}

// maxBatch bounds the events one worker writes to a socket at once.
const maxBatch = 64

// groupLen is how many jobs at the head of batch go to the same shard of
// the same room, with a shard slice that only grew between them (a
// compaction replaces the slice and starts a new group). A barrier is a
// group of its own.
func groupLen(batch []fanoutJob) int {
	first := batch[0]
	if first.barrier != nil {
		return 1
	}
	n := 1
	for ; n < len(batch); n++ {
		j := batch[n]
		if j.barrier != nil || j.room != first.room || &j.subs[0] != &first.subs[0] {
			break
		}
	}
	return n
}

// batchWriter writes a group of jobs; its buffers are reused.
type batchWriter struct {
	events []queued
	wire   []byte
}

// run sends every job of a group to its subscribers: a subscription that
// each job includes gets all their frames in one write, one that joined or
// was left out (except) part way gets its own selection.
func (w *batchWriter) run(group []fanoutJob) {
	first := group[0]
	if first.barrier != nil {
		first.barrier <- struct{}{}
		return
	}
	if len(group) == 1 {
		for _, s := range first.subs {
			if s != first.except {
				s.enqueue(first.q)
			}
		}
		first.room.pending.Add(-1)
		return
	}
	// The frames of the whole group, for the subscriptions in every job.
	common := len(first.subs)
	w.events, w.wire = w.events[:0], w.wire[:0]
	for _, j := range group {
		common = min(common, len(j.subs))
		w.events = append(w.events, j.q)
		w.wire = append(w.wire, j.q.frame.wire...)
	}
	all := group[len(group)-1].subs // the longest: shards only grow within a group
	for i, s := range all {
		if i < common && !excluded(group, s) {
			s.enqueueBatch(w.events, w.wire)
			continue
		}
		for _, j := range group {
			if i < len(j.subs) && s != j.except {
				s.enqueue(j.q)
			}
		}
	}
	for _, j := range group {
		j.room.pending.Add(-1)
	}
	clear(w.events)
	if cap(w.wire) > 1<<20 {
		w.wire = nil
	}
}

func excluded(group []fanoutJob, s *Subscription) bool {
	for _, j := range group {
		if j.except == s {
			return true
		}
	}
	return false
}

// flush waits until every job queued before the call has run.
func (p *fanoutPool) flush() {
	if p.stopped.Load() || !p.running.Load() {
		return
	}
	ack := make(chan struct{}, len(p.jobs))
	for _, ch := range p.jobs {
		select {
		case ch <- fanoutJob{barrier: ack}:
		case <-p.quit:
			return
		}
	}
	for range p.jobs {
		select {
		case <-ack:
		case <-p.quit:
			return
		}
	}
}

// close runs what is queued and stops the workers.
func (p *fanoutPool) close() {
	p.flush()
	p.stop.Do(func() {
		p.stopped.Store(true)
		close(p.quit)
	})
	p.done.Wait()
}
