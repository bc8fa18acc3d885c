package api

import (
	"testing"
	"time"
)

func TestAppendTS(t *testing.T) {
	for _, tc := range []struct {
		in   time.Time
		want string
	}{
		{time.Date(2026, 11, 24, 18, 4, 5, 123456789, time.UTC), "2026-11-24T18:04:05.123Z"},
		{time.Date(2026, 11, 24, 18, 4, 5, 999999999, time.UTC), "2026-11-24T18:04:05.999Z"}, // truncated, not rounded
		{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "2026-01-02T03:04:05.000Z"},
		{time.Date(2026, 11, 24, 20, 4, 5, 7000000, time.FixedZone("CEST", 2*3600)), "2026-11-24T18:04:05.007Z"},
		{time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), "0001-01-01T00:00:00.000Z"},
		{time.Date(9999, 12, 31, 23, 59, 59, 999000000, time.UTC), "9999-12-31T23:59:59.999Z"},
		{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).Format(TSLayout)},
	} {
		got := string(AppendTS([]byte("x"), tc.in))
		if got != "x"+tc.want {
			t.Errorf("AppendTS(%v) = %q, want %q", tc.in, got, "x"+tc.want)
		}
		if tc.in.Year() <= 9999 {
			back, err := ParseTS(tc.want)
			if err != nil || !back.Equal(tc.in.Truncate(time.Millisecond)) {
				t.Errorf("ParseTS(%q) = %v, %v; want %v", tc.want, back, err, tc.in.Truncate(time.Millisecond))
			}
		}
	}
}

func TestParseTS(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"2026-11-24T18:04:05.123Z", true},
		{"2026-11-24T18:04:05Z", true},
		{"2026-11-24T20:04:05.5+02:00", true},
		{"2026-11-24 18:04:05", false},
		{"", false},
	} {
		if _, err := ParseTS(tc.in); (err == nil) != tc.ok {
			t.Errorf("ParseTS(%q) error = %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
}

func TestAppendTSAllocs(t *testing.T) {
	buf := make([]byte, 0, 64)
	now := time.Now()
	if n := testing.AllocsPerRun(100, func() { buf = AppendTS(buf[:0], now) }); n != 0 {
		t.Errorf("AppendTS allocates %v times per call, want 0", n)
	}
}
