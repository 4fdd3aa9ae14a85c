package scenario

// liveSet holds a room's open sessions in fixed chunks, so an 8M-session
// room grows without copying (and without the transient 2x of a growing
// slice): 16 bytes a session plus at most one partly filled chunk.
type liveSet struct {
	chunks [][]live
	n      int
}

const liveChunk = 1 << 16

func (s *liveSet) len() int { return s.n }

func (s *liveSet) add(l live) {
	c := s.n / liveChunk
	if c == len(s.chunks) {
		s.chunks = append(s.chunks, make([]live, liveChunk))
	}
	s.chunks[c][s.n%liveChunk] = l
	s.n++
}

// take removes and returns session i, moving the last one into its place.
func (s *liveSet) take(i int) live {
	p := &s.chunks[i/liveChunk][i%liveChunk]
	l := *p
	s.n--
	*p = s.chunks[s.n/liveChunk][s.n%liveChunk]
	if s.n%liveChunk == 0 && s.n/liveChunk == len(s.chunks)-1 {
		s.chunks[len(s.chunks)-1] = nil // free the emptied chunk
		s.chunks = s.chunks[:len(s.chunks)-1]
	}
	return l
}

// userStamps is what the truth keeps per user and room: the last minute
// (+1) and phase (+1) in which the user attempted and joined, so distinct
// users per minute and phase are counted in one pass: 6 bytes a user, in
// chunks (no copying as users are added).
type userStamps struct {
	minAtt, minJoin uint16
	phAtt, phJoin   uint8
}

type stampSet struct{ chunks [][]userStamps }

const stampChunk = 1 << 16

// at returns user u's stamps, growing the set as needed.
func (s *stampSet) at(u uint32) *userStamps {
	c := int(u / stampChunk)
	for c >= len(s.chunks) {
		s.chunks = append(s.chunks, make([]userStamps, stampChunk))
	}
	return &s.chunks[c][u%stampChunk]
}
