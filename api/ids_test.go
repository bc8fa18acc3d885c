package api

import (
	"bytes"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
)

// stepClock is a Clock driven by hand.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *stepClock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func TestIDSourceMonotonic(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 18, 4, 5, 0, time.UTC)
	clock := &stepClock{t: t0}
	src := NewIDSource(clock)
	var ids []string
	next := func() string {
		id := src.Next()
		if !ValidULID(id) || strings.ToUpper(id) != id {
			t.Fatalf("Next() = %q: not an upper-case ULID", id)
		}
		if n := len(ids); n > 0 && id <= ids[n-1] {
			t.Fatalf("Next() = %s after %s: not increasing", id, ids[n-1])
		}
		ids = append(ids, id)
		return id
	}
	for i := 0; i < 1000; i++ { // all in one millisecond
		next()
	}
	if tm, _ := ULIDTime(ids[999]); !tm.Equal(t0) {
		t.Errorf("ids within one millisecond carry time %v, want %v", tm, t0)
	}
	clock.set(t0.Add(-time.Hour)) // the clock steps backwards
	back := next()
	if tm, _ := ULIDTime(back); !tm.Equal(t0) {
		t.Errorf("after the clock stepped back the id time is %v, want it held at %v", tm, t0)
	}
	clock.set(t0.Add(time.Second))
	fwd := next()
	if tm, _ := ULIDTime(fwd); !tm.Equal(t0.Add(time.Second)) {
		t.Errorf("id time %v, want %v", tm, t0.Add(time.Second))
	}
}

// TestIDSourceOverflow starts from the largest random part (ten 0xff bytes),
// so the first increment within the millisecond overflows: the source must
// borrow the next millisecond rather than fail or go backwards.
func TestIDSourceOverflow(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 18, 4, 5, 0, time.UTC)
	src := newIDSource(&stepClock{t: t0}, io.MultiReader(bytes.NewReader(bytes.Repeat([]byte{0xff}, 10)), bytes.NewReader(bytes.Repeat([]byte{1}, 1<<16))))
	a := src.NextULID()
	b := src.NextULID()
	if a.Compare(b) >= 0 {
		t.Fatalf("%s then %s: not increasing", a, b)
	}
	if b.Time() != a.Time()+1 {
		t.Errorf("after overflow the time is %d, want %d", b.Time(), a.Time()+1)
	}
}

func TestIDSourceConcurrent(t *testing.T) {
	src := NewIDSource(&stepClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	const workers, each = 8, 500
	var wg sync.WaitGroup
	out := make([][]string, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				out[w] = append(out[w], src.Next())
			}
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	var all []string
	for _, ids := range out {
		if !sort.StringsAreSorted(ids) {
			t.Error("one goroutine saw ids out of order")
		}
		for _, id := range ids {
			if seen[id] {
				t.Fatalf("duplicate id %s", id)
			}
			seen[id] = true
			all = append(all, id)
		}
	}
	if len(all) != workers*each {
		t.Errorf("%d ids, want %d", len(all), workers*each)
	}
}

func TestIDSourceRealClock(t *testing.T) {
	before := time.Now().Add(-time.Millisecond)
	id := NewIDSource(nil).Next()
	tm, ok := ULIDTime(id)
	if !ok || tm.Before(before.Truncate(time.Millisecond)) || tm.After(time.Now().Add(time.Millisecond)) {
		t.Errorf("id %s from the real clock has time %v", id, tm)
	}
}

func TestValidULID(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"01JDABCDEFGHJKMNPQRSTVWXYZ", true},
		{"01jdabcdefghjkmnpqrstvwxyz", true},
		{"7ZZZZZZZZZZZZZZZZZZZZZZZZZ", true},
		{"00000000000000000000000000", true},
		{"8ZZZZZZZZZZZZZZZZZZZZZZZZZ", false}, // past the 48-bit time
		{"01JDABCDEFGHJKMNPQRSTVWXY", false},
		{"01JDABCDEFGHJKMNPQRSTVWXYZ0", false},
		{"01JDABCDEFGHIKMNPQRSTVWXYZ", false}, // I
		{"01JDABCDEFGHJLMNPQRSTVWXYZ", false}, // L
		{"01JDABCDEFGHJKMNOQRSTVWXYZ", false}, // O
		{"01JDABCDEFGHJKMNPQRSTUWXYZ", false}, // U
		{"01JDABCDEFGHJKMNPQRSTVWXY!", false},
		{"", false},
	} {
		if got := ValidULID(tc.in); got != tc.ok {
			t.Errorf("ValidULID(%q) = %v, want %v", tc.in, got, tc.ok)
		}
		// oklog/ulid's strict parser agrees (it too accepts lower case).
		if _, err := ulid.ParseStrict(tc.in); (err == nil) != tc.ok {
			t.Errorf("ulid.ParseStrict(%q) = %v, ValidULID says %v", tc.in, err, tc.ok)
		}
		if _, ok := ULIDTime(tc.in); ok != tc.ok {
			t.Errorf("ULIDTime(%q) ok = %v", tc.in, ok)
		}
	}
	if got := CanonicalULID("01jdabcdefghjkmnpqrstvwxyz"); got != "01JDABCDEFGHJKMNPQRSTVWXYZ" {
		t.Errorf("CanonicalULID = %s", got)
	}
	if n := testing.AllocsPerRun(10, func() { _ = CanonicalULID("01JDABCDEFGHJKMNPQRSTVWXYZ") }); n != 0 {
		t.Errorf("CanonicalULID of an upper-case id allocates %v times", n)
	}
}
