//go:build race

package wire_test

// raceEnabled trims the heaviest payloads (16 MiB round trips, 4 MiB compressed
// messages) when the race detector slows every byte down by an order of magnitude;
// the full sizes run in the ordinary `go test` and in the benchmarks.
const raceEnabled = true
