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
		w.run(batch)
		clear(batch[:cap(batch)])
	}
}

// maxBatch bounds the events one worker takes at once.
const maxBatch = 64

// batchWriter writes a batch of jobs, each socket's frames of the whole
// batch in one write (acks and other events for one socket included); its
// buffers are reused from batch to batch.
type batchWriter struct {
	subs  []*Subscription // in the order first seen
	at    map[*Subscription]int
	lists [][]queued // frames per entry of subs, in job order
	wire  []byte
}

// run sends the jobs of a batch, in order per socket. A barrier is
// signalled once everything before it was written.
func (w *batchWriter) run(batch []fanoutJob) {
	if len(batch) == 1 && batch[0].barrier == nil {
		// Not behind: nothing to gather.
		j := batch[0]
		enqueueAll(j.subs, j.q, j.except)
		j.room.pending.Add(-1)
		return
	}
	if w.at == nil {
		w.at = make(map[*Subscription]int)
	}
	for _, j := range batch {
		if j.barrier != nil {
			w.flush()
			j.barrier <- struct{}{}
			continue
		}
		for _, s := range j.subs {
			if s != j.except {
				w.add(s, j.q)
			}
		}
	}
	w.flush()
	for _, j := range batch {
		if j.room != nil {
			j.room.pending.Add(-1)
		}
	}
}

func (w *batchWriter) add(s *Subscription, q queued) {
	i, ok := w.at[s]
	if !ok {
		i = len(w.subs)
		w.at[s] = i
		w.subs = append(w.subs, s)
		if i == len(w.lists) {
			w.lists = append(w.lists, nil)
		}
	}
	w.lists[i] = append(w.lists[i], q)
}

// flush writes what was gathered and empties the buffers.
func (w *batchWriter) flush() {
	for i, s := range w.subs {
		list := w.lists[i]
		if len(list) == 1 {
			s.enqueue(list[0])
		} else {
			w.wire = w.wire[:0]
			for _, q := range list {
				w.wire = append(w.wire, q.frame.wire...)
			}
			s.enqueueBatch(list, w.wire)
		}
		clear(list)
		w.lists[i] = list[:0]
	}
	clear(w.at)
	clear(w.subs)
	w.subs = w.subs[:0]
	if cap(w.wire) > 1<<20 {
		w.wire = nil
	}
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
