// x509verify checks fleetpki's certificates, CRLs and OCSP answers with Go's crypto/x509 and
// golang.org/x/crypto/ocsp, verifiers written independently of fleetpki's (and of OpenSSL's). Used
// by ConformanceTest; built in GOPATH mode against Debian's golang-go and
// golang-golang-x-crypto-dev (GOPATH=/usr/share/gocode), nothing downloaded.
//
//	x509verify chain -root ROOT.pem -chain CHAIN.pem [-dns NAME] [-eku server|client|code|any]
//	x509verify crl -issuer CA.pem -crl CRL.pem
//	x509verify ocsp -issuer CA.pem -resp RESP.der
//
// Prints "OK ..." and exits 0, or "FAIL: reason" and exits 1.
package main

import (
	"crypto/x509"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"time"

	"golang.org/x/crypto/ocsp"
)

func certs(path string) []*x509.Certificate {
	data, err := os.ReadFile(path)
	if err != nil {
		fail(err.Error())
	}
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			fail("parse " + path + ": " + err.Error())
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		fail("no certificate in " + path)
	}
	return out
}

func fail(msg string) {
	fmt.Println("FAIL: " + msg)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: x509verify chain|crl ...")
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	root := fs.String("root", "", "trust anchor (PEM)")
	chain := fs.String("chain", "", "leaf, then intermediates (PEM)")
	dns := fs.String("dns", "", "host name to verify")
	eku := fs.String("eku", "any", "server, client, code or any")
	issuer := fs.String("issuer", "", "CRL issuer certificate (PEM)")
	crlPath := fs.String("crl", "", "CRL (PEM or DER)")
	respPath := fs.String("resp", "", "OCSP response (DER)")
	fs.Parse(os.Args[2:])
	switch os.Args[1] {
	case "chain":
		roots := x509.NewCertPool()
		for _, c := range certs(*root) {
			roots.AddCert(c)
		}
		cs := certs(*chain)
		inter := x509.NewCertPool()
		for _, c := range cs[1:] {
			inter.AddCert(c)
		}
		usages := map[string]x509.ExtKeyUsage{"server": x509.ExtKeyUsageServerAuth, "client": x509.ExtKeyUsageClientAuth,
			"code": x509.ExtKeyUsageCodeSigning, "any": x509.ExtKeyUsageAny}
		u, ok := usages[*eku]
		if !ok {
			fail("unknown -eku " + *eku)
		}
		_, err := cs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: *dns,
			KeyUsages: []x509.ExtKeyUsage{u}, CurrentTime: time.Now()})
		if err != nil {
			fail(err.Error())
		}
		fmt.Println("OK " + cs[0].Subject.String())
	case "crl":
		data, err := os.ReadFile(*crlPath)
		if err != nil {
			fail(err.Error())
		}
		if b, _ := pem.Decode(data); b != nil {
			data = b.Bytes
		}
		crl, err := x509.ParseRevocationList(data)
		if err != nil {
			fail("parse CRL: " + err.Error())
		}
		if err := crl.CheckSignatureFrom(certs(*issuer)[0]); err != nil {
			fail("CRL signature: " + err.Error())
		}
		fmt.Printf("OK CRL number %v, %d entries, next update %s\n", crl.Number, len(crl.RevokedCertificates), crl.NextUpdate.UTC().Format(time.RFC3339))
	case "ocsp":
		data, err := os.ReadFile(*respPath)
		if err != nil {
			fail(err.Error())
		}
		// checks the responder certificate (issued by the CA, OCSP signing EKU) and the response signature
		r, err := ocsp.ParseResponse(data, certs(*issuer)[0])
		if err != nil {
			fail("OCSP response: " + err.Error())
		}
		status := map[int]string{ocsp.Good: "good", ocsp.Revoked: "revoked", ocsp.Unknown: "unknown"}[r.Status]
		if r.NextUpdate.IsZero() {
			fail("OCSP response without nextUpdate")
		}
		fmt.Printf("OK %s, serial %x, next update %s\n", status, r.SerialNumber, r.NextUpdate.UTC().Format(time.RFC3339))
	default:
		fail("unknown command " + os.Args[1])
	}
}
