package wire

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"strings"
	"time"

	"github.com/ethervpn/ethervpn/internal/pack"
)

// Watermark is the 1411-byte GIF that every SoftEther client sends as the
// body of its first request; the server compares it byte for byte.
var Watermark = decodeWatermark()

//go:embed watermark.b64
var watermarkBase64 string

// watermarkSHA256 identifies the real watermark (docs/protocol/session.md#watermark).
const watermarkSHA256 = "96a706bbab378ec37dfef21e02b1a3c177fbebeffa039eb0efac918630df12a0"

func decodeWatermark() []byte {
	b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(watermarkBase64), ""))
	sum := sha256.Sum256(b)
	if err != nil || hex.EncodeToString(sum[:]) != watermarkSHA256 {
		panic("wire: embedded watermark is corrupt")
	}
	return b
}

// Request targets and limits of the preamble.
const (
	SignatureTarget = "/vpnsvc/connect.cgi"
	PackTarget      = "/vpnsvc/vpn.cgi"

	maxSignatureBody = 1411 + 2000 // watermark plus at most 1999 random bytes (+1 slack as the real server)
	altSignature     = "VPNCONNECT"
	maxPreambleReqs  = 19 // requests before the signature; the 20th drops the connection
	MaxRequestPack   = 1 << 16
	// maxResponsePack caps a response pack (client side): the hello, the
	// welcome and the other answers of the handshake. SoftEther's client
	// accepts up to MAX_PACK_SIZE, 512 MiB (HTTP.c, HttpClientRecv), but no
	// answer an ethervpn client reads comes near that: the hello is under
	// 3 KiB, and the welcome's largest part is the hub's message of at most
	// 20,000 characters (Cedar.h, HUB_MAXMSG_LEN), under 100 KB in UTF-8,
	// beside the policy and a few strings (Protocol.c, ServerAccept). The
	// body grows only as its bytes arrive (readBody), and the decoded PACK
	// takes at most pack.DefaultBudget, so a rogue server costs a client
	// (or each cascade) at most about 4 MiB.
	maxResponsePack = 1 << 20
	packContentType = "application/octet-stream"
)

// ErrNotVPN means the peer does not speak the SoftEther protocol.
var ErrNotVPN = errors.New("wire: peer is not a SoftEther VPN peer")

// PageInfo names the server in the Apache-style error pages shown to
// browsers and probes that reach a VPN port.
type PageInfo struct {
	Host string // local IP address as text
	Port int
}

// ServeSignature runs the server side of the first step: it answers HTTP
// requests the way a plausible web server would until the client sends the
// watermark to /vpnsvc/connect.cgi, and returns nil then. Any other outcome
// is an error wrapping ErrNotVPN, after which the caller closes the
// connection.
func ServeSignature(r *bufio.Reader, w io.Writer, page PageInfo) error {
	last := "no request"
	for i := 0; i < maxPreambleReqs; i++ {
		m, err := ReadMessage(r, maxSignatureBody)
		method, target := "", ""
		if m != nil {
			method, target = strings.ToUpper(m.Start[0]), m.Start[1]
		}
		switch {
		case errors.Is(err, ErrHTTPTooLong) && m != nil:
			writeErrorPage(w, 403, m, page)
			return fmt.Errorf("%w: %v", ErrNotVPN, err)
		case err != nil:
			return fmt.Errorf("%w: %v (after %d requests, last: %s)", ErrNotVPN, err, i, last)
		}
		last = fmt.Sprintf("%s %q with %d-byte body", method, truncate(target), len(m.Body))
		switch method {
		case "POST":
			n := len(m.Body)
			if n != len(altSignature) && n < len(Watermark) {
				writeErrorPage(w, 403, m, page)
				return fmt.Errorf("%w: signature body of %d bytes", ErrNotVPN, n)
			}
			if !strings.EqualFold(target, SignatureTarget) {
				writeErrorPage(w, 404, m, page)
				continue
			}
			if string(m.Body) == altSignature || bytes.HasPrefix(m.Body, Watermark) {
				return nil
			}
			writeErrorPage(w, 403, m, page)
		case "GET", "HEAD":
			if target == "/" {
				writeErrorPage(w, 403, m, page)
			} else {
				writeErrorPage(w, 404, m, page)
			}
		default:
			writeErrorPage(w, 501, m, page)
		}
	}
	return fmt.Errorf("%w: %d requests without a signature", ErrNotVPN, maxPreambleReqs)
}

var statusText = map[int]string{403: "Forbidden", 404: "Not Found", 501: "Method Not Implemented"}

// writeErrorPage writes an Apache-style error page, so that browsers and
// port scanners see an ordinary web server. The 403 page doubles as a
// protocol signal: a real client probes a server with "GET /" and goes on
// only if the answer starts with exactly this 403 text (CRLF line ends).
func writeErrorPage(w io.Writer, status int, m *Message, page PageInfo) {
	method, target, version := "", "", ""
	if m != nil {
		method, target, version = m.Start[0], m.Start[1], m.Start[2]
	}
	target = strings.NewReplacer("<", "(", ">", ")").Replace(target)
	text := statusText[status]
	var detail string
	switch status {
	case 403:
		detail = "You don't have permission to access " + target + "\r\non this server.<P>\r\n"
	case 404:
		detail = "The requested URL " + target + " was not found on this server.<P>\r\n"
	default:
		detail = method + " to " + target + " not supported.<P>\r\nInvalid method in request " + method + " " + target + " " + version + "<P>\r\n"
	}
	body := fmt.Sprintf("<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\r\n<HTML><HEAD>\r\n<TITLE>%d %s</TITLE>\r\n</HEAD><BODY>\r\n<H1>%s</H1>\r\n%s<HR>\r\n<ADDRESS>HTTP Server at %s Port %d</ADDRESS>\r\n</BODY></HTML>\r\n",
		status, text, text, detail, page.Host, page.Port)
	resp := &Message{
		Start: [3]string{"HTTP/1.1", fmt.Sprint(status), text},
		Headers: []Header{
			{"Connection", "Keep-Alive"},
			{"Content-Type", "text/html; charset=iso-8859-1"},
			{"Date", httpDate(time.Now())},
			{"Keep-Alive", "timeout=15; max=19"},
		},
		Body: []byte(body),
	}
	w.Write(AppendMessage(nil, resp))
}

// WriteSignature sends the client's first request: the watermark plus
// 0..1999 random bytes to /vpnsvc/connect.cgi. host is the server's IP
// address as text, as the real client sends it.
func WriteSignature(w io.Writer, host string) error {
	body := make([]byte, len(Watermark)+mrand.IntN(2000))
	copy(body, Watermark)
	rand.Read(body[len(Watermark):])
	m := &Message{
		Start: [3]string{"POST", SignatureTarget, "HTTP/1.1"},
		Headers: []Header{
			{"Connection", "Keep-Alive"},
			{"Content-Type", "image/jpeg"},
			{"Host", host},
		},
		Body: body,
	}
	_, err := w.Write(AppendMessage(nil, m))
	return err
}

// WritePack sends p as the body of an HTTP 200 response (server side).
// A random "pencore" padding element is added as the real server does.
func WritePack(w io.Writer, p *pack.Pack) error {
	p.AddPencore()
	m := &Message{
		Start: [3]string{"HTTP/1.1", "200", "OK"},
		Headers: []Header{
			{"Connection", "Keep-Alive"},
			{"Content-Type", packContentType},
			{"Date", httpDate(time.Now())},
			{"Keep-Alive", "timeout=15; max=19"},
		},
		Body: p.Encode(nil),
	}
	_, err := w.Write(AppendMessage(nil, m))
	return err
}

// WritePackRequest sends p as a POST to /vpnsvc/vpn.cgi (client side).
func WritePackRequest(w io.Writer, host string, p *pack.Pack) error {
	p.AddPencore()
	m := &Message{
		Start: [3]string{"POST", PackTarget, "HTTP/1.1"},
		Headers: []Header{
			{"Connection", "Keep-Alive"},
			{"Content-Type", packContentType},
			{"Date", httpDate(time.Now())},
			{"Host", host},
			{"Keep-Alive", "timeout=15; max=19"},
		},
		Body: p.Encode(nil),
	}
	_, err := w.Write(AppendMessage(nil, m))
	return err
}

// ReadPackRequest reads one client request pack (server side) with the real
// server's rules: POST /vpnsvc/vpn.cgi HTTP/1.1, octet-stream, 1..64 KiB.
// A request that breaks them is a protocol error (the caller answers with
// error 3, as the real server does, and closes).
func ReadPackRequest(r *bufio.Reader) (*pack.Pack, error) {
	m, err := ReadMessage(r, MaxRequestPack)
	if err != nil {
		return nil, err
	}
	switch {
	case !strings.EqualFold(m.Start[0], "POST"):
		return nil, fmt.Errorf("wire: expected POST, got %q", truncate(m.Start[0]))
	case !strings.EqualFold(m.Start[1], PackTarget):
		return nil, fmt.Errorf("wire: request target %q, want %s", truncate(m.Start[1]), PackTarget)
	case !strings.EqualFold(m.Start[2], "HTTP/1.1"):
		return nil, fmt.Errorf("wire: HTTP version %q, want HTTP/1.1", truncate(m.Start[2]))
	case !strings.EqualFold(m.Get("Content-Type"), packContentType):
		return nil, fmt.Errorf("wire: content type %q, want %s", truncate(m.Get("Content-Type")), packContentType)
	case len(m.Body) == 0:
		return nil, errors.New("wire: empty request pack")
	}
	p, err := pack.Decode(m.Body)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// ReadPackResponse reads one server response pack (client side) with the
// real client's rules (HTTP/1.1 200, octet-stream, at least 1 byte), but
// at most maxResponsePack bytes instead of the real client's 512 MiB.
func ReadPackResponse(r *bufio.Reader) (*pack.Pack, error) {
	m, err := ReadMessage(r, maxResponsePack)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotVPN, err)
	}
	if !strings.EqualFold(m.Start[0], "HTTP/1.1") || m.Start[1] != "200" {
		return nil, fmt.Errorf("%w: HTTP status %q %q", ErrNotVPN, truncate(m.Start[0]), truncate(m.Start[1]))
	}
	if !strings.EqualFold(m.Get("Content-Type"), packContentType) || len(m.Body) == 0 {
		return nil, fmt.Errorf("%w: response is not a pack", ErrNotVPN)
	}
	return pack.Decode(m.Body)
}
