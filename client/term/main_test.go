package term

import (
	"testing"

	"go.uber.org/goleak"
)

// RunPipe and RunTerminal start goroutines; their end-to-end tests live in
// cmd/chat, and this package's tests must leave nothing running either.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
