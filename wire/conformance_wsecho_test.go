package wire_test

// The server-role conformance sections against cmd/wsecho itself — the binary that
// independent conformance probes are pointed at — not only against this package's own
// echo handler. The test builds the command, starts it on 127.0.0.1:0, reads the address
// it logs, runs sections 1–7, 9 (at the 16 MiB default limit), 10 and 13 against it, and
// stops it with an interrupt.

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// startWsecho builds and runs cmd/wsecho, returning its address.
func startWsecho(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "wsecho")
	build := exec.Command(goTool, "build", "-o", bin, "../cmd/wsecho")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building cmd/wsecho: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	cmd := exec.CommandContext(ctx, bin, "--addr", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	addrc := make(chan string, 1)
	var logs bytes.Buffer
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		re := regexp.MustCompile(`addr=(127\.0\.0\.1:\d+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addrc <- m[1]:
				default:
				}
			}
			if logs.Len() < 64<<10 {
				logs.WriteString(sc.Text() + "\n")
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil && !strings.Contains(err.Error(), "interrupt") {
				t.Errorf("wsecho exited: %v", err)
			}
		case <-time.After(ioBound):
			t.Errorf("wsecho did not stop within %v of an interrupt", ioBound)
			cancel()
			<-done
		}
		<-logDone
		cancel()
		if t.Failed() {
			t.Logf("wsecho log:\n%s", logs.String())
		}
	})
	select {
	case a := <-addrc:
		return a
	case <-time.After(ioBound):
		t.Fatalf("wsecho logged no address; log:\n%s", logs.String())
		return ""
	}
}

func TestConformanceWsecho(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs cmd/wsecho")
	}
	addr := startWsecho(t)
	// One parent for the parallel cases, so the server outlives them all.
	t.Run("sections", func(t *testing.T) {
		var cases []serverCase
		for _, group := range [][]serverCase{framingCases(), pingPongCases(), reservedBitsCases(), opcodeCases(), fragmentationCases(), utf8Cases(t)} {
			cases = append(cases, group...)
		}
		for _, cc := range closeCases() {
			cases = append(cases, serverCase{cc.name, cc.script})
		}
		cases = append(cases,
			serverCase{"9 16 MiB echo at the default --max-message", func(t *testing.T, r *rawConn) {
				if raceEnabled {
					t.Skip("16 MiB under the race detector")
				}
				p := randomBytes(16<<20, 16)
				done := make(chan struct{})
				go func() {
					defer close(done)
					r.sendTolerant(fragmentFrames(opBinary, p, 1<<20)...)
				}()
				r.expect(opBinary, p)
				<-done
				r.closeNormally()
			}},
			serverCase{"9 one byte over --max-message: 1009", func(t *testing.T, r *rawConn) {
				f := binaryFrame(make([]byte, 16<<20+1))
				b := f.encode(true, r.key)
				r.mustWrite(b[:len(b)-len(f.payload)])
				r.expectClose(1009)
			}},
			serverCase{"10.1.1 64 KiB text in 1300-byte fragments", func(t *testing.T, r *rawConn) {
				p := compressible(65536, 10)
				r.send(fragmentFrames(opText, p, 1300)...)
				r.expect(opText, p)
				r.closeNormally()
			}},
		)
		runServerCasesAt(t, addr, cases)
	})
	t.Run("13 permessage-deflate offers", func(t *testing.T) {
		runOfferCases(t, addr)
	})
}
