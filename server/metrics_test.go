package server

import (
	"io"
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// slowConsumersValue reads the slow-consumer counter (for tests and logs).
func (m *metrics) slowConsumersValue() float64 {
	var out dto.Metric
	if err := m.slowConsumers.Write(&out); err != nil {
		return 0
	}
	return out.GetCounter().GetValue()
}

// TestMetricsExposition checks that a session's activity shows up at
// /metrics under the documented names.
func TestMetricsExposition(t *testing.T) {
	ts := startServer(t, nil)
	cl := ts.dial(t)
	cl.send(`{"type":"join","name":"alice"}`)
	cl.expect(map[string]any{"type": "welcome"})
	cl.expect(map[string]any{"type": "presence"})
	cl.expect(map[string]any{"type": "join"})
	cl.send(`{"type":"chat","text":"hi"}`)
	cl.expect(map[string]any{"type": "chat"})
	cl.send(`{"type":"nope"}`)
	cl.expect(map[string]any{"type": "error", "code": "unknown_type"})

	resp, err := http.Get(ts.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		"chatd_connections 1",
		"chatd_joins_total 1",
		`chatd_messages_received_total{type="chat"} 1`,
		`chatd_messages_received_total{type="invalid"} 1`,
		`chatd_messages_sent_total{type="chat"} 1`,
		`chatd_messages_sent_total{type="welcome"} 1`,
		`chatd_errors_total{code="unknown_type"} 1`,
		"chatd_rooms 1",
		"chatd_broadcast_fanout_seconds_count 1",
		"chatd_queue_high_water_bytes ",
		"chatd_slow_consumer_closes_total 0",
		"chatd_received_bytes_total ",
		"chatd_sent_bytes_total ",
		"chatd_writes_total ",
		"chatd_sent_frames_total ",
		"go_goroutines ",
		"go_memstats_heap_inuse_bytes ",
		"process_resident_memory_bytes ",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
