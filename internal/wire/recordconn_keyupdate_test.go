package wire

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/big"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// testCert is a self-signed certificate for loopback TLS tests.
func testCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// secretLog keeps the TLS 1.3 traffic secrets a tls.Config's KeyLogWriter
// writes (NSS key log format).
type secretLog struct {
	mu      sync.Mutex
	secrets map[string][]byte
}

func (l *secretLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for line := range strings.Lines(string(p)) {
		f := strings.Fields(line)
		if len(f) == 3 {
			if b, err := hex.DecodeString(f[2]); err == nil {
				l.secrets[f[0]] = b
			}
		}
	}
	return len(p), nil
}

// recordWriter seals TLS 1.3 records by hand (RFC 8446 sections 5.2, 7.1
// to 7.3), so that a test can send what crypto/tls never sends on its own:
// a KeyUpdate that asks the peer to update its keys too.
type recordWriter struct {
	w      io.Writer
	hash   func() hash.Hash
	suite  uint16
	secret []byte
	aead   cipher.AEAD
	iv     []byte
	seq    uint64
}

// expandLabel is HKDF-Expand-Label with an empty context.
func (r *recordWriter) expandLabel(secret []byte, label string, n int) []byte {
	info := []byte{byte(n >> 8), byte(n), byte(6 + len(label))}
	info = append(info, "tls13 "+label...)
	info = append(info, 0)
	out, err := hkdf.Expand(r.hash, secret, string(info), n)
	if err != nil {
		panic(err)
	}
	return out
}

func (r *recordWriter) setSecret(secret []byte) {
	r.secret, r.seq = secret, 0
	r.iv = r.expandLabel(secret, "iv", 12)
	var err error
	switch r.suite {
	case tls.TLS_CHACHA20_POLY1305_SHA256:
		r.aead, err = chacha20poly1305.New(r.expandLabel(secret, "key", chacha20poly1305.KeySize))
	default:
		n := 16
		if r.suite == tls.TLS_AES_256_GCM_SHA384 {
			n = 32
		}
		var b cipher.Block
		if b, err = aes.NewCipher(r.expandLabel(secret, "key", n)); err == nil {
			r.aead, err = cipher.NewGCM(b)
		}
	}
	if err != nil {
		panic(err)
	}
}

// write seals content of the given record type into one record.
func (r *recordWriter) write(typ byte, content []byte) error {
	inner := append(append([]byte{}, content...), typ)
	hdr := []byte{23, 3, 3, 0, 0}
	binary.BigEndian.PutUint16(hdr[3:], uint16(len(inner)+r.aead.Overhead()))
	nonce := append([]byte{}, r.iv...)
	var seq [8]byte
	binary.BigEndian.PutUint64(seq[:], r.seq)
	for i := range seq {
		nonce[4+i] ^= seq[i]
	}
	r.seq++
	_, err := r.w.Write(r.aead.Seal(hdr, nonce, inner, hdr))
	return err
}

// keyUpdate sends a KeyUpdate with update_requested and moves to the next
// traffic secret.
func (r *recordWriter) keyUpdate() error {
	if err := r.write(22, []byte{24, 0, 0, 1, 1}); err != nil {
		return err
	}
	r.setSecret(r.expandLabel(r.secret, "traffic upd", r.hash().Size()))
	return nil
}

// TestKeyUpdateDuringBulkTransfer runs the data phase as the server does
// (crypto/tls over a RecordConn that buffers writes, one goroutine
// writing a bulk stream with Write and Flush or TryFlush, another reading)
// while the peer keeps sending TLS 1.3 KeyUpdates that request an update.
// crypto/tls answers each on the reading goroutine, through
// RecordConn.Write, concurrently with the writer's Flush and TryFlush: the
// race detector (run with -race) must find nothing, and the stream must
// arrive whole, in order and readable across every key change.
func TestKeyUpdateDuringBulkTransfer(t *testing.T) {
	a, b := tcpPair(t)
	// Small socket buffers: little data in flight, so that the peer sees
	// the answer to each KeyUpdate soon, and the writer often finds the
	// socket full (Flush waits, TryFlush leaves data buffered).
	a.(*net.TCPConn).SetWriteBuffer(64 << 10)
	b.(*net.TCPConn).SetReadBuffer(64 << 10)
	keys := &secretLog{secrets: map[string][]byte{}}
	rc := NewRecordConn(a)
	srv := tls.Server(rc, &tls.Config{Certificates: []tls.Certificate{testCert(t)}, MinVersion: tls.VersionTLS13})
	seen := &recordCounter{Conn: b}
	cli := tls.Client(seen, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13, KeyLogWriter: keys})
	hsErr := make(chan error, 1)
	go func() { hsErr <- srv.Handshake() }()
	if err := cli.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-hsErr; err != nil {
		t.Fatal(err)
	}
	rc.BufferReads()
	rc.BufferWrites()
	a.SetDeadline(time.Now().Add(time.Minute))
	b.SetDeadline(time.Now().Add(time.Minute))

	rw := &recordWriter{w: b, suite: cli.ConnectionState().CipherSuite, hash: sha256.New}
	if rw.suite == tls.TLS_AES_256_GCM_SHA384 {
		rw.hash = sha512.New384
	}
	keys.mu.Lock()
	secret := keys.secrets["CLIENT_TRAFFIC_SECRET_0"]
	keys.mu.Unlock()
	if secret == nil {
		t.Fatal("no client traffic secret in the key log")
	}
	rw.setSecret(secret)

	const total, updates = 32 << 20, 200
	want := pattern(total)
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	// The server's writer: records of up to 16 KiB, flushed in batches,
	// now waiting (Flush), now not (TryFlush), as the session's writer.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i, off := 0, 0; off < total; i++ {
			for end := min(off+64<<10, total); off < end; {
				n, err := srv.Write(want[off:min(off+16<<10, end)])
				if err != nil {
					errs <- fmt.Errorf("server write: %w", err)
					return
				}
				off += n
			}
			var err error
			if i%2 == 0 {
				err = rc.Flush()
			} else {
				_, err = rc.TryFlush()
			}
			if err != nil {
				errs <- fmt.Errorf("server flush: %w", err)
				return
			}
		}
		if err := rc.Flush(); err != nil {
			errs <- fmt.Errorf("server flush: %w", err)
		}
	}()
	// The server's reader: crypto/tls handles each KeyUpdate inside Read
	// and answers it with RecordConn.Write on this goroutine. It reads
	// until the peer has read the whole stream.
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 64)
		for {
			a.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			_, err := srv.Read(buf)
			select {
			case <-stop:
				return
			default:
			}
			if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				errs <- fmt.Errorf("server read: %w", err)
				return
			}
		}
	}()
	// The peer reads the stream and, after each of many slices, sends a
	// KeyUpdate and one byte of data under its new key: the updates are
	// spread over the whole transfer, while the server writes. crypto/tls
	// refuses more than 16 records in a row without data, from either
	// side, so the peer sends the next KeyUpdate only once the server's
	// answer to the last one came, followed by data.
	got := make([]byte, total)
	const slices = 400
	slice := total / slices
	sent := 0
	for i := range slices {
		if _, err := io.ReadFull(cli, got[i*slice:(i+1)*slice]); err != nil {
			t.Fatalf("reading the bulk stream after %d KeyUpdates: %v", sent, err)
		}
		if seen.keyUpdates < sent || !seen.dataLast {
			continue
		}
		if err := rw.keyUpdate(); err != nil {
			t.Fatalf("KeyUpdate %d: %v", sent, err)
		}
		if err := rw.write(23, []byte{byte(sent)}); err != nil {
			t.Fatalf("data after KeyUpdate %d: %v", sent, err)
		}
		sent++
	}
	if _, err := io.ReadFull(cli, got[slices*slice:]); err != nil {
		t.Fatalf("reading the end of the bulk stream: %v", err)
	}
	close(stop)
	t.Logf("%d KeyUpdates answered during the transfer", sent)
	if sent < 50 {
		t.Fatalf("only %d KeyUpdates were answered during the transfer; the test needs more", sent)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if !bytes.Equal(got, want) {
		i := 0
		for got[i] == want[i] {
			i++
		}
		t.Fatalf("bulk stream differs from byte %d on", i)
	}
}

// recordCounter watches the TLS records the peer receives: a record of 22
// bytes is one of the server's KeyUpdates (1 byte of message type, the
// 4-byte message, the record's content type and a 16-byte tag); the bulk
// stream's records are far larger.
type recordCounter struct {
	net.Conn
	buf        []byte
	keyUpdates int
	dataLast   bool // the last record was data, not a KeyUpdate
}

func (r *recordCounter) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.buf = append(r.buf, p[:n]...)
	for len(r.buf) >= 5 {
		l := int(binary.BigEndian.Uint16(r.buf[3:]))
		if len(r.buf) < 5+l {
			break
		}
		if r.dataLast = l != 22; !r.dataLast {
			r.keyUpdates++
		}
		r.buf = r.buf[5+l:]
	}
	return n, err
}
