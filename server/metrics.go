package server

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/chatd/chatd/api"
)

// metrics are the server's Prometheus series. Label values are resolved once
// here, so that counting on the hot path is an atomic add.
type metrics struct {
	connections   prometheus.Gauge
	joins         prometheus.Counter
	bytesIn       prometheus.Counter
	bytesOut      prometheus.Counter
	writes        prometheus.Counter
	framesOut     prometheus.Counter
	slowConsumers prometheus.Counter
	fanout        prometheus.Histogram

	in     map[string]prometheus.Counter // by client message type
	out    map[string]prometheus.Counter // by server message type
	errors map[api.Code]prometheus.Counter
	closes *prometheus.CounterVec // by close code

	handler http.Handler
}

var (
	clientTypes = []string{"join", "chat", "pm", "typing", "who", "leave", "invalid"}
	serverTypes = []string{"welcome", "presence", "chat", "pm", "typing", "join", "leave", "error"}
	errorCodes  = []api.Code{
		api.CodeInvalidJSON, api.CodeInvalidMessage, api.CodeUnknownType, api.CodeNotJoined,
		api.CodeNameTaken, api.CodeUnknownUser, api.CodeNotMember, api.CodeRateLimited,
		api.CodeUnauthorized, api.CodeInternal,
	}
)

func newMetrics(reg prometheus.Registerer, rooms, queueHigh func() float64) (*metrics, error) {
	var gatherer prometheus.Gatherer
	if reg == nil {
		// The private registry also carries the Go runtime's and the
		// process's own series (heap, goroutines, RSS, CPU), which an
		// operator and chatbench read next to chatd's.
		r := prometheus.NewRegistry()
		r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		reg, gatherer = r, r
	} else if g, ok := reg.(prometheus.Gatherer); ok {
		gatherer = g
	} else {
		gatherer = prometheus.DefaultGatherer
	}
	m := &metrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "chatd_connections", Help: "Open WebSocket connections."}),
		joins: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chatd_joins_total", Help: "Successful room joins."}),
		bytesIn: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chatd_received_bytes_total", Help: "Payload bytes of messages received from clients."}),
		bytesOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chatd_sent_bytes_total", Help: "Frame bytes written to clients (before compression)."}),
		writes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chatd_writes_total", Help: "Batches written to client sockets (one write system call each, unless a batch is larger than a socket buffer)."}),
		framesOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chatd_sent_frames_total", Help: "Queued frames written to clients; divided by chatd_writes_total, the frames per write that coalescing achieves."}),
		slowConsumers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chatd_slow_consumer_closes_total", Help: "Connections closed because their outbound queue would overflow."}),
		fanout: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "chatd_broadcast_fanout_seconds",
			Help:    "Time to queue one room event to every local member.",
			Buckets: prometheus.ExponentialBuckets(1e-6, 4, 10), // 1 µs … 262 ms
		}),
		closes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatd_closes_total", Help: "Closed connections by WebSocket close code."}, []string{"code"}),
		in:     make(map[string]prometheus.Counter),
		out:    make(map[string]prometheus.Counter),
		errors: make(map[api.Code]prometheus.Counter),
	}
	inVec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "chatd_messages_received_total", Help: "Messages received from clients by type."}, []string{"type"})
	outVec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "chatd_messages_sent_total", Help: "Messages queued to clients by type."}, []string{"type"})
	errVec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "chatd_errors_total", Help: "Error envelopes sent by code."}, []string{"code"})
	for _, t := range clientTypes {
		m.in[t] = inVec.WithLabelValues(t)
	}
	for _, t := range serverTypes {
		m.out[t] = outVec.WithLabelValues(t)
	}
	for _, c := range errorCodes {
		m.errors[c] = errVec.WithLabelValues(string(c))
	}
	roomsGauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "chatd_rooms", Help: "Rooms with at least one member on this server."}, rooms)
	queueGauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "chatd_queue_high_water_bytes", Help: "Largest outbound queue (bytes) seen on any connection."}, queueHigh)
	for _, c := range []prometheus.Collector{
		m.connections, m.joins, m.bytesIn, m.bytesOut, m.writes, m.framesOut, m.slowConsumers, m.fanout,
		m.closes, inVec, outVec, errVec, roomsGauge, queueGauge,
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	m.handler = promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{})
	return m, nil
}

// received counts one client message of type t ("invalid" when it did not decode).
func (m *metrics) received(t string) {
	if c, ok := m.in[t]; ok {
		c.Inc()
	}
}

// sent counts n server messages of type t.
func (m *metrics) sent(t string, n int) {
	if c, ok := m.out[t]; ok {
		c.Add(float64(n))
	}
}

func (m *metrics) errorSent(code api.Code) {
	if c, ok := m.errors[code]; ok {
		c.Inc()
	}
}

func (m *metrics) closed(code int) {
	m.closes.WithLabelValues(strconv.Itoa(code)).Inc()
}
