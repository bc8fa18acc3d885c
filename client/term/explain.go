package term

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"

	"github.com/chatd/chatd/api"
	"github.com/chatd/chatd/client"
)

// Explain turns an error from dialing or from a session into one line for
// people: what went wrong, and what to try. url, if not empty, is named.
func Explain(err error, url string) string {
	var ce0 *client.ConnectError
	if url == "" && errors.As(err, &ce0) {
		url = ce0.URL
	}
	at := ""
	if url != "" {
		at = " " + url
	}
	var (
		se    *client.ServerError
		ce    *client.CloseError
		conn  *client.ConnectError
		dns   *net.DNSError
		unkCA x509.UnknownAuthorityError
		host  x509.HostnameError
		inv   x509.CertificateInvalidError
		rec   tls.RecordHeaderError
	)
	var gu *client.GaveUpError
	if errors.As(err, &gu) {
		return fmt.Sprintf("the server is gone: the connection was lost and %d reconnect attempts failed (last: %s); try again later",
			gu.Attempts, Explain(gu.Last, url))
	}
	switch {
	case errors.As(err, &se):
		switch se.Code {
		case api.CodeNameTaken:
			return fmt.Sprintf("the name is already taken on this server (%s): pick another with --name", se.Err.Message)
		case api.CodeUnauthorized:
			return "the server refused to let you in (unauthorized): check --token"
		case api.CodeInvalidMessage:
			return fmt.Sprintf("the server refused %s: %s", se.Op, se.Err.Error())
		case api.CodeRateLimited:
			return "the server says you are sending too fast (rate_limited): slow down and try again"
		}
		return fmt.Sprintf("the server refused %s: %s", se.Op, se.Err.Error())
	case errors.As(err, &ce):
		switch ce.Reason {
		case "unauthorized":
			return "the server closed the connection: unauthorized (check --token)"
		case "slow_consumer":
			return "the server closed the connection because this client read too slowly (slow_consumer): try again"
		case "rate_limited":
			return "the server closed the connection for flooding (rate_limited): send less, then try again"
		case "join_timeout":
			return "the server closed the connection: no join in time (join_timeout)"
		}
		return fmt.Sprintf("the server closed the connection (%d %s)", ce.Code, ce.Reason)
	case errors.Is(err, client.ErrSlowConsumer):
		return "this program stopped reading the server's messages in time and disconnected: try again"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "cannot connect to" + at + ": connection refused: is chatd running there? (start it with `make run`, or pass --url)"
	case errors.As(err, &dns):
		return fmt.Sprintf("cannot find the host %q: check --url", dns.Name)
	case errors.As(err, &unkCA):
		return "TLS: the server's certificate is not signed by a CA you trust: pass --ca FILE with its CA (or --insecure, for testing only)"
	case errors.As(err, &host):
		return fmt.Sprintf("TLS: the server's certificate is not valid for this host (%v): check the host in --url", host.Error())
	case errors.As(err, &inv):
		return fmt.Sprintf("TLS: the server's certificate is invalid (%v): ask its operator, or use --insecure for testing only", inv.Error())
	case errors.As(err, &rec):
		return "TLS handshake failed: the server does not speak TLS at" + at + ": use ws:// instead of wss://"
	case errors.As(err, &conn) && conn.Status != 0:
		switch conn.Status {
		case 404:
			return fmt.Sprintf("no WebSocket endpoint at %s (HTTP 404): the path is usually /ws", conn.URL)
		case 403:
			return fmt.Sprintf("the server refused the connection (HTTP 403 %s): check its allowed origins", conn.Body)
		}
		return fmt.Sprintf("the server refused the WebSocket handshake (HTTP %d %s): is this a chatd server?", conn.Status, conn.Body)
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded):
		return "timed out talking to" + at + ": check the address and your network, then try again"
	case errors.Is(err, client.ErrConnectionLost), errors.Is(err, client.ErrNotConnected):
		return "the connection to the server was lost: the server may have gone away; try again"
	}
	var tlsErr *tls.CertificateVerificationError
	if errors.As(err, &tlsErr) {
		return fmt.Sprintf("TLS: cannot verify the server's certificate (%v): pass --ca FILE or --insecure (testing only)", tlsErr.Err)
	}
	return fmt.Sprintf("%v: the server may be gone or unreachable; try again later", err)
}
