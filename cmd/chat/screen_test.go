package main

import (
	"strconv"
	"strings"
	"sync"
	"testing"
)

// screen is a small terminal emulator for the tests of the interactive mode:
// enough of VT100/xterm for what bubbletea's inline renderer sends (text,
// CR, LF with scrolling, cursor moves, erase in line/display); colours and
// modes are ignored. It answers "what would a person see".
type screen struct {
	mu         sync.Mutex
	rows, cols int
	cells      [][]rune
	r, c       int
	state      int // 0 text, 1 after ESC, 2 CSI, 3 OSC, 4 OSC after ESC
	params     []byte
	changed    chan struct{}
}

func newScreen(rows, cols int) *screen {
	s := &screen{rows: rows, cols: cols, changed: make(chan struct{})}
	for range rows {
		s.cells = append(s.cells, blank(cols))
	}
	return s
}

func blank(n int) []rune { return []rune(strings.Repeat(" ", n)) }

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ch := range string(p) {
		s.put(ch)
	}
	close(s.changed)
	s.changed = make(chan struct{})
	return len(p), nil
}

func (s *screen) put(ch rune) {
	switch s.state {
	case 1:
		switch ch {
		case '[':
			s.state, s.params = 2, s.params[:0]
		case ']':
			s.state = 3
		default:
			s.state = 0 // ESC 7, ESC 8, ESC =, …: nothing visible
		}
		return
	case 2:
		if ch >= 0x40 && ch <= 0x7e {
			s.csi(ch, string(s.params))
			s.state = 0
			return
		}
		s.params = append(s.params, byte(ch))
		return
	case 3:
		if ch == 7 {
			s.state = 0
		} else if ch == 0x1b {
			s.state = 4
		}
		return
	case 4:
		s.state = 0 // ESC \ ends an OSC
		return
	}
	switch ch {
	case 0x1b:
		s.state = 1
	case '\r':
		s.c = 0
	case '\n':
		s.down()
	case '\b':
		if s.c > 0 {
			s.c--
		}
	case '\t':
		s.c = min(s.cols-1, (s.c/8+1)*8)
	default:
		if ch < 0x20 {
			return
		}
		if s.c >= s.cols {
			s.c = 0
			s.down()
		}
		s.cells[s.r][s.c] = ch
		s.c++
	}
}

func (s *screen) down() {
	if s.r == s.rows-1 {
		s.cells = append(s.cells[1:], blank(s.cols))
		return
	}
	s.r++
}

func (s *screen) csi(final rune, params string) {
	private := strings.HasPrefix(params, "?") || strings.HasPrefix(params, ">")
	if private {
		return // modes: cursor visibility, bracketed paste, …
	}
	var ns []int
	for _, f := range strings.Split(params, ";") {
		n, _ := strconv.Atoi(f)
		ns = append(ns, n)
	}
	arg := func(i, def int) int {
		if i < len(ns) && ns[i] > 0 {
			return ns[i]
		}
		return def
	}
	switch final {
	case 'A':
		s.r = max(0, s.r-arg(0, 1))
	case 'B':
		s.r = min(s.rows-1, s.r+arg(0, 1))
	case 'C':
		s.c = min(s.cols-1, s.c+arg(0, 1))
	case 'D':
		s.c = max(0, s.c-arg(0, 1))
	case 'G':
		s.c = min(s.cols-1, arg(0, 1)-1)
	case 'H', 'f':
		s.r, s.c = min(s.rows-1, arg(0, 1)-1), min(s.cols-1, arg(1, 1)-1)
	case 'K':
		row := s.cells[s.r]
		from, to := s.c, s.cols
		switch arg(0, 0) {
		case 1:
			from, to = 0, s.c+1
		case 2:
			from = 0
		}
		for i := from; i < to && i < s.cols; i++ {
			row[i] = ' '
		}
	case 'J':
		switch arg(0, 0) {
		case 0:
			for i := s.c; i < s.cols; i++ {
				s.cells[s.r][i] = ' '
			}
			for r := s.r + 1; r < s.rows; r++ {
				s.cells[r] = blank(s.cols)
			}
		case 1:
			for r := 0; r < s.r; r++ {
				s.cells[r] = blank(s.cols)
			}
		case 2, 3:
			for r := range s.cells {
				s.cells[r] = blank(s.cols)
			}
		}
	}
}

// lines returns the visible rows without trailing blanks.
func (s *screen) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, s.rows)
	for i, row := range s.cells {
		out[i] = strings.TrimRight(string(row), " ")
	}
	return out
}

func (s *screen) String() string { return strings.Join(s.lines(), "\n") }

func TestScreenEmulator(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"text and newline", "ab\r\ncd", []string{"ab", "cd", ""}},
		{"cursor up and erase right", "one\r\ntwo\r\n\x1b[2Ax\x1b[K", []string{"x", "two", ""}},
		{"scrolls at the bottom", "1\r\n2\r\n3\r\n4", []string{"2", "3", "4"}},
		{"colours are invisible", "\x1b[1;31mred\x1b[0m \x1b[?25lok", []string{"red ok", "", ""}},
		{"erase below", "a\r\nb\r\nc\x1b[1A\r\x1b[J", []string{"a", "", ""}},
		{"osc ignored", "\x1b]11;?\x07hi", []string{"hi", "", ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newScreen(3, 10)
			_, _ = s.Write([]byte(tc.in))
			if got := s.lines(); strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}
