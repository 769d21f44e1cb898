package server

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
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

// parseKeyPair turns SoftEther's stored DER certificate and key into a
// tls.Certificate, checking that they belong together. The key may be in
// any form SoftEther writes (it stores what OpenSSL's i2d_PrivateKey
// gives, Encrypt.c): PKCS#1 for RSA, SEC1 ("EC PRIVATE KEY") for ECDSA,
// or PKCS#8. A PEM block is taken as well, as hand-made files may hold one.
func parseKeyPair(certDER, keyDER []byte) (tls.Certificate, error) {
	certDER, keyDER = pemBody(certDER), pemBody(keyDER)
	cert, err := x509.ParseCertificate(certDER)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("server certificate (ServerCert): %w", err)
	}
	var key crypto.Signer
	if k, err := x509.ParsePKCS1PrivateKey(keyDER); err == nil {
		key = k
	} else if k, err := x509.ParseECPrivateKey(keyDER); err == nil {
		key = k
	} else if k, err := x509.ParsePKCS8PrivateKey(keyDER); err == nil {
		signer, ok := k.(crypto.Signer)
		if !ok {
			return tls.Certificate{}, fmt.Errorf("server private key (ServerKey): a PKCS#8 %T cannot sign", k)
		}
		key = signer
	} else {
		return tls.Certificate{}, fmt.Errorf("server private key (ServerKey): %d bytes that are not a PKCS#1 RSA, SEC1 EC or PKCS#8 DER key", len(keyDER))
	}
	if rk, ok := key.(*rsa.PrivateKey); ok && rk.N.BitLen() < 1024 {
		return tls.Certificate{}, fmt.Errorf("server private key (ServerKey): RSA key of %d bits; TLS refuses keys under 1024 bits", rk.N.BitLen())
	}
	if eq, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(cert.PublicKey) {
		return tls.Certificate{}, fmt.Errorf("server private key (ServerKey) does not match the certificate (ServerCert)")
	}
	return tls.Certificate{Certificate: [][]byte{certDER}, PrivateKey: key, Leaf: cert}, nil
}

// pemBody returns the bytes of the first PEM block in b, or b itself.
func pemBody(b []byte) []byte {
	if blk, _ := pem.Decode(b); blk != nil {
		return blk.Bytes
	}
	return b
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
