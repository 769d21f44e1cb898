package server

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"os"
	"time"
)

// newSelfSignedCert makes a certificate like the one a fresh SoftEther
// server generates: RSA-2048, SHA-256, the host name as CN/O/OU, valid until
// 2037. RSA keeps the widest range of real clients happy.
func newSelfSignedCert() (certDER, keyDER []byte, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "ethervpn"
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: host, Organization: []string{host}, OrganizationalUnit: []string{host}, Country: []string{"US"}},
		NotBefore:             time.Now().Add(-24 * time.Hour),
		NotAfter:              time.Date(2037, 12, 31, 0, 0, 0, 0, time.UTC),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	certDER, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	return certDER, x509.MarshalPKCS1PrivateKey(key), nil
}

// parseKeyPair turns SoftEther's stored DER certificate and PKCS#1 (or
// PKCS#8) key into a tls.Certificate, checking that they belong together.
func parseKeyPair(certDER, keyDER []byte) (tls.Certificate, error) {
	cert, err := x509.ParseCertificate(certDER)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("server certificate: %w", err)
	}
	var key any
	if k, err := x509.ParsePKCS1PrivateKey(keyDER); err == nil {
		key = k
	} else if k, err := x509.ParsePKCS8PrivateKey(keyDER); err == nil {
		key = k
	} else {
		return tls.Certificate{}, fmt.Errorf("server private key: not PKCS#1 or PKCS#8 DER")
	}
	if pk, ok := key.(interface{ Public() crypto.PublicKey }); ok {
		if eq, ok := pk.Public().(interface{ Equal(crypto.PublicKey) bool }); ok && !eq.Equal(cert.PublicKey) {
			return tls.Certificate{}, fmt.Errorf("server private key does not match the certificate")
		}
	}
	return tls.Certificate{Certificate: [][]byte{certDER}, PrivateKey: key, Leaf: cert}, nil
}

// tlsConfig is TLS 1.2+ with forward-secret AEAD suites only. Session
// tickets are off: the real client never uses them, and no post-handshake
// ticket message can then interleave with a session that drops to
// plaintext after the welcome.
func tlsConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		SessionTicketsDisabled: true,
	}
}
