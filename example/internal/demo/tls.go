package demo

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// tlsConfig loads -tls-cert and -tls-key: nil when HTTPS is off. Every
// error names the flag whose file is at fault.
func (c config) tlsConfig() (*tls.Config, error) {
	if c.tlsCert == "" {
		return nil, nil
	}
	certPEM, err := os.ReadFile(c.tlsCert)
	if err != nil {
		return nil, fmt.Errorf("-tls-cert: %w", err)
	}
	keyPEM, err := os.ReadFile(c.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("-tls-key: %w", err)
	}
	if err := checkCertPEM(certPEM); err != nil {
		return nil, fmt.Errorf("-tls-cert %s: %w", c.tlsCert, err)
	}
	// The certificate parses, so what fails now is the key or the pair.
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("-tls-key %s (for -tls-cert %s): %w", c.tlsKey, c.tlsCert, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
}

// checkCertPEM reports whether b holds a PEM certificate Go can parse, the
// leaf first as tls.X509KeyPair wants it.
func checkCertPEM(b []byte) error {
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return errors.New("no PEM CERTIFICATE block")
		}
		if block.Type == "CERTIFICATE" {
			_, err := x509.ParseCertificate(block.Bytes)
			return err
		}
	}
}
