//go:build !race

package wire_test

// raceEnabled: see conformance_race_test.go.
const raceEnabled = false
