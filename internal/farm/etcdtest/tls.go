package etcdtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TLSFiles are PEM files of a test PKI: a CA and a certificate with its
// key, signed by that CA.
type TLSFiles struct {
	CA, Cert, Key string
}

// StartTLS runs an etcd server as Start does, serving its clients over
// TLS with a certificate of a CA made for the test and asking each client
// for a certificate of that CA (etcd's --client-cert-auth). It returns
// the files of a client certificate etcd accepts (Client) and of one
// from another CA, which etcd refuses (Stranger).
func StartTLS(t testing.TB) (cli *clientv3.Client, client, stranger TLSFiles) {
	t.Helper()
	dir := t.TempDir()
	ca := newCA(t, dir, "ca")
	server := ca.issue(t, dir, "server", x509.ExtKeyUsageServerAuth)
	client = ca.issue(t, dir, "client", x509.ExtKeyUsageClientAuth)
	stranger = newCA(t, dir, "other-ca").issue(t, dir, "stranger", x509.ExtKeyUsageClientAuth)
	cli = start(t, &transport.TLSInfo{CertFile: server.Cert, KeyFile: server.Key, TrustedCAFile: ca.files.CA,
		ClientCertAuth: true, ClientCertFile: client.Cert, ClientKeyFile: client.Key})
	return cli, client, stranger
}

// testCA is a certificate authority of a test.
type testCA struct {
	cert  *x509.Certificate
	key   *ecdsa.PrivateKey
	files TLSFiles // CA only
}

func newCA(t testing.TB, dir, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, files: TLSFiles{CA: writePEM(t, dir, name+".pem", "CERTIFICATE", der)}}
}

// issue makes a certificate for 127.0.0.1 with usage, signed by the CA.
func (ca *testCA) issue(t testing.TB, dir, name string, usage x509.ExtKeyUsage) TLSFiles {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return TLSFiles{CA: ca.files.CA, Cert: writePEM(t, dir, name+".pem", "CERTIFICATE", der),
		Key: writePEM(t, dir, name+"-key.pem", "EC PRIVATE KEY", kder)}
}

func writePEM(t testing.TB, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
