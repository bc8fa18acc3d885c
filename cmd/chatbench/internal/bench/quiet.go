package bench

import (
	"bytes"
	"time"
)

// stampWidth is the fixed number of digits of the send time in a quiet
// round trip's text: nanoseconds since the run's epoch, zero-padded, so the
// stamp can be written into a message that is already built (10^15 ns is
// 11 days; parseText reads up to 18 digits and leading zeros).
const stampWidth = 15

// quietChat is roomChat for the quiet round trip (the latency and floor
// scenarios): it builds the whole envelope with a placeholder for the send
// time, does the accounting, and only then takes the time and writes it
// into the envelope, right before the write. The pacer's stamp (sent) is
// not used: at 10 msg/s every send starts on a cold CPU, where building the
// text and envelope took 9 µs at p50 and 51 µs at p90 on the 2-vCPU VM of
// docs/PERFORMANCE.md, time that roomChat's stamp, taken before the build,
// charged to the server.
func (p *pool) quietChat(c *client, sc *scratch, _ time.Duration) error {
	sc.text = appendStampSlot(sc.text[:0], c.idx, c.seq, textLenFor(p.o.Size, c.room))
	c.seq++
	sc.msg = appendChat(sc.msg[:0], c.room, sc.text)
	p.roomSent[c.room].Add(1)
	p.expected.Add(int64(p.members[c.room]))
	p.sent.Add(1)
	slot := bytes.Index(sc.msg, []byte(`"text":"`+textPrefix)) + len(`"text":"`+textPrefix)
	putStamp(sc.msg[slot:slot+stampWidth], p.st.now())
	return c.ws.WriteText(sc.msg)
}

// appendStampSlot is appendText with stampWidth zeros where the send time
// goes.
func appendStampSlot(dst []byte, sender int, seq int64, textLen int) []byte {
	start := len(dst)
	dst = append(dst, textPrefix...)
	for range stampWidth {
		dst = append(dst, '0')
	}
	return appendTextTail(dst, start, sender, seq, textLen)
}

// putStamp writes sent into slot as len(slot) decimal digits, zero-padded
// (a negative or too large time is clamped, never written past the slot).
func putStamp(slot []byte, sent time.Duration) {
	v := max(int64(sent), 0)
	for i := len(slot) - 1; i >= 0; i-- {
		slot[i] = byte('0' + v%10)
		v /= 10
	}
	if v != 0 {
		for i := range slot {
			slot[i] = '9'
		}
	}
}
