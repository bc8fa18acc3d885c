package api

import "time"

// TSLayout is the layout of every ts field: RFC 3339 in UTC with exactly three
// fractional digits and a Z.
const TSLayout = "2006-01-02T15:04:05.000Z"

// AppendTS appends t as a ts value (without quotes): RFC 3339 in UTC, truncated
// to the millisecond, e.g. 2026-11-24T18:04:05.123Z. It does not allocate.
func AppendTS(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		// Outside RFC 3339's four-digit years; no real clock gets here.
		return t.AppendFormat(dst, TSLayout)
	}
	hour, min, sec := t.Clock()
	ms := t.Nanosecond() / int(time.Millisecond)
	dst = append4(dst, year)
	dst = append(dst, '-')
	dst = append2(dst, int(month))
	dst = append(dst, '-')
	dst = append2(dst, day)
	dst = append(dst, 'T')
	dst = append2(dst, hour)
	dst = append(dst, ':')
	dst = append2(dst, min)
	dst = append(dst, ':')
	dst = append2(dst, sec)
	dst = append(dst, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
	return dst
}

// ParseTS parses a ts value as AppendTS writes it; it also accepts any other
// RFC 3339 time, so that clients of other servers are not refused.
func ParseTS(s string) (time.Time, error) {
	if t, err := time.Parse(TSLayout, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

func append2(dst []byte, v int) []byte { return append(dst, byte('0'+v/10), byte('0'+v%10)) }

func append4(dst []byte, v int) []byte {
	return append(dst, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}
