package actors

// fifo is a growable ring of mailbox messages. Nothing is preallocated:
// RocketMQ-sized capacities (100 000 for pulls) would otherwise cost memory
// for every idle processor.
type fifo struct {
	buf        []any
	head, size int
}

func (q *fifo) push(m any) {
	if q.size == len(q.buf) {
		n := len(q.buf) * 2
		if n == 0 {
			n = 16
		}
		nb := make([]any, n)
		for i := 0; i < q.size; i++ {
			nb[i] = q.buf[(q.head+i)%len(q.buf)]
		}
		q.buf, q.head = nb, 0
	}
	q.buf[(q.head+q.size)%len(q.buf)] = m
	q.size++
}

func (q *fifo) peek() any {
	if q.size == 0 {
		return nil
	}
	return q.buf[q.head]
}

func (q *fifo) pop() any {
	if q.size == 0 {
		return nil
	}
	m := q.buf[q.head]
	q.buf[q.head] = nil
	q.head = (q.head + 1) % len(q.buf)
	q.size--
	if q.size == 0 {
		q.head = 0
		// Give back the memory of a burst once it has drained.
		if len(q.buf) > 1024 {
			q.buf = nil
		}
	}
	return m
}
