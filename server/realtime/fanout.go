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
	w := batchWriter{more: jobs}
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

// maxBatch bounds the events one worker takes at once, and again the
// events it takes while writing them.
const maxBatch = 64

// peekEvery is how many sockets a worker writes between looks at its queue.
const peekEvery = 32

// batchWriter writes a batch of jobs, each socket's frames of the whole
// batch in one write (acks and other events for one socket included). While
// it writes, it looks at its queue every peekEvery sockets and merges what
// arrived: a socket not written yet gets the new frames in the same write,
// one already written gets them in a next round. So an event that comes
// while the one before is still being written costs no extra write for the
// sockets the first has not reached, and does not wait for the rest of it.
// Its buffers are reused from batch to batch.
type batchWriter struct {
	more      <-chan fanoutJob // the worker's queue (nil: do not look)
	cur, next gather
	taken     []fanoutJob // jobs taken while writing; done with the batch
	barrier   chan<- struct{}
	// peeking: the batch is all in the rounds, so what is queued now comes
	// after all of it.
	peeking bool
	wire    []byte
}

// gather is one round: the sockets in the order first seen, each with its
// frames in job order; done counts the sockets already written.
type gather struct {
	subs  []*Subscription
	at    map[*Subscription]int
	lists [][]queued
	done  int
}

func (g *gather) add(s *Subscription, q queued) {
	if g.at == nil {
		g.at = make(map[*Subscription]int)
	}
	i, ok := g.at[s]
	if !ok {
		i = len(g.subs)
		g.at[s] = i
		g.subs = append(g.subs, s)
		if i == len(g.lists) {
			g.lists = append(g.lists, nil)
		}
	}
	g.lists[i] = append(g.lists[i], q)
}

// addJob adds q for every one of subs but except.
func (g *gather) addJob(subs []*Subscription, q queued, except *Subscription) {
	for _, s := range subs {
		if s != except {
			g.add(s, q)
		}
	}
}

func (g *gather) reset() {
	for i := range g.subs {
		clear(g.lists[i])
		g.lists[i] = g.lists[i][:0]
	}
	clear(g.at)
	clear(g.subs)
	g.subs = g.subs[:0]
	g.done = 0
}

// route adds job j, taken while the current round is being written, where
// each of its sockets keeps its order: behind the frames of the current
// round still to be written, or in the next round for a socket the current
// one already wrote (or that has frames there).
func (w *batchWriter) route(j fanoutJob) {
	for _, s := range j.subs {
		if s == j.except {
			continue
		}
		if _, ok := w.next.at[s]; ok {
			w.next.add(s, j.q)
			continue
		}
		if i, ok := w.cur.at[s]; ok && i < w.cur.done {
			w.next.add(s, j.q)
			continue
		}
		w.cur.add(s, j.q)
	}
}

// peek takes the jobs queued meanwhile into the rounds, up to maxBatch per
// batch; a barrier ends the looking (it is signalled once the rounds are
// written, and nothing after it may go before it).
func (w *batchWriter) peek() {
	for w.peeking && w.barrier == nil && len(w.taken) < maxBatch {
		select {
		case j := <-w.more:
			if j.barrier != nil {
				w.barrier = j.barrier
				return
			}
			w.taken = append(w.taken, j)
			w.route(j)
		default:
			return
		}
	}
}

// run sends the jobs of a batch, in order per socket. A barrier is
// signalled once everything before it was written.
func (w *batchWriter) run(batch []fanoutJob) {
	if len(batch) == 1 && batch[0].barrier == nil {
		// Not behind: write the job straight, unless more comes meanwhile.
		j := batch[0]
		w.peeking = w.more != nil
		w.direct(j)
		j.room.pending.Add(-1)
		w.finish()
		return
	}
	for _, j := range batch {
		if j.barrier != nil {
			w.rounds()
			j.barrier <- struct{}{}
			continue
		}
		w.cur.addJob(j.subs, j.q, j.except)
	}
	w.peeking = w.more != nil
	w.rounds()
	for _, j := range batch {
		if j.room != nil {
			j.room.pending.Add(-1)
		}
	}
	w.finish()
}

// direct writes one job socket by socket; when jobs arrive meanwhile, the
// sockets it has not reached become a round with them.
func (w *batchWriter) direct(j fanoutJob) {
	for i, s := range j.subs {
		if i > 0 && i%peekEvery == 0 && w.peeking && len(w.more) > 0 {
			w.cur.addJob(j.subs[i:], j.q, j.except)
			w.peek()
			w.rounds()
			return
		}
		if s != j.except {
			s.enqueue(j.q)
		}
	}
}

// rounds writes the current round, looking for more meanwhile, and then
// the next ones until nothing is left.
func (w *batchWriter) rounds() {
	for len(w.cur.subs) > 0 {
		g := &w.cur
		for g.done < len(g.subs) {
			if g.done > 0 && g.done%peekEvery == 0 {
				w.peek()
			}
			i := g.done
			g.done++
			s, list := g.subs[i], g.lists[i]
			if len(list) == 1 {
				s.enqueue(list[0])
				continue
			}
			w.wire = w.wire[:0]
			for _, q := range list {
				w.wire = append(w.wire, q.frame.wire...)
			}
			s.enqueueBatch(list, w.wire)
		}
		g.reset()
		w.cur, w.next = w.next, w.cur
	}
	if cap(w.wire) > 1<<20 {
		w.wire = nil
	}
}

// finish settles what was taken while writing: those jobs are written, and
// a barrier taken meanwhile may go.
func (w *batchWriter) finish() {
	for _, j := range w.taken {
		if j.room != nil {
			j.room.pending.Add(-1)
		}
	}
	clear(w.taken)
	w.taken = w.taken[:0]
	w.peeking = false
	if w.barrier != nil {
		w.barrier <- struct{}{}
		w.barrier = nil
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
