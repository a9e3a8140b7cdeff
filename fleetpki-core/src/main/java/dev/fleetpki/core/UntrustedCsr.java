package dev.fleetpki.core;

import dev.fleetpki.kms.Crypto;
import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.bouncycastle.asn1.ASN1String;
import org.bouncycastle.asn1.crmf.CertReqMsg;
import org.bouncycastle.asn1.crmf.CertTemplate;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.cert.crmf.CRMFException;
import org.bouncycastle.cert.crmf.CertificateRequestMessage;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.x500.RDN;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x500.style.IETFUtils;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.Extensions;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.bouncycastle.pkcs.PKCSException;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequest;

/**
 * A PKCS#10 request (RFC 2986), or a CRMF one (RFC 4211, from CMP), as received: parsed and its signature checked, but its contents
 * not yet authorized. Only its public key and its (checked) names ever reach a certificate;
 * requested extensions other than subjectAltName are ignored, never copied.
 */
public final class UntrustedCsr {
    /** Requests larger than this are refused before parsing (a CSR is a few hundred bytes). */
    public static final int MAX_BYTES = 64 * 1024;

    private final byte[] der;
    private final X500Name subject;
    private final PublicKey publicKey;
    /** The extensions asked for (PKCS#10 extensionRequest, CRMF template), or null. */
    private final List<Extensions> requestedExtensions;
    /** PKCS#9 challengePassword attribute values (PKCS#10 only). */
    private final org.bouncycastle.asn1.pkcs.Attribute[] challenge;

    private UntrustedCsr(byte[] der, X500Name subject, PublicKey publicKey, List<Extensions> requestedExtensions,
                         org.bouncycastle.asn1.pkcs.Attribute[] challenge) {
        this.der = der;
        this.subject = subject;
        this.publicKey = publicKey;
        this.requestedExtensions = requestedExtensions;
        this.challenge = challenge;
    }

    private static UntrustedCsr of(PKCS10CertificationRequest req, PublicKey key) {
        List<Extensions> exts = new ArrayList<>();
        for (var attr : req.getAttributes(PKCSObjectIdentifiers.pkcs_9_at_extensionRequest)) {
            for (var v : attr.getAttrValues()) {
                exts.add(Extensions.getInstance(v));
            }
        }
        try {
            return new UntrustedCsr(req.getEncoded(), req.getSubject(), key, exts, req.getAttributes(PKCSObjectIdentifiers.pkcs_9_at_challengePassword));
        } catch (IOException e) {
            throw new PkiException(ErrorKind.INTERNAL, "cannot encode the CSR", e);
        }
    }

    /** What is wrong with DER that did not parse as a CertificationRequest, in words (RFC 2986 4.2; X.690 8.1). */
    static String derProblem(byte[] der) {
        if (der.length == 0) {
            return "it is empty (a PEM block with nothing between its BEGIN and END lines?)";
        }
        if ((der[0] & 0xff) != 0x30) {
            return "it does not start with a SEQUENCE (first byte 0x" + String.format("%02x", der[0] & 0xff) + ")";
        }
        if (der.length < 2) {
            return "it ends after its first byte";
        }
        long length;
        int header;
        int first = der[1] & 0xff;
        if (first < 0x80) {
            length = first;
            header = 2;
        } else {
            int n = first & 0x7f;
            if (n == 0 || n > 4 || der.length < 2 + n) {
                return "its outer length is not a definite DER length";
            }
            length = 0;
            for (int i = 0; i < n; i++) {
                length = (length << 8) | (der[2 + i] & 0xff);
            }
            header = 2 + n;
        }
        long have = der.length - header;
        if (have < length) {
            return "it is truncated: its outer SEQUENCE announces " + length + " bytes and " + have + " follow";
        }
        if (have > length) {
            return (have - length) + " bytes follow the outer SEQUENCE";
        }
        return "the SEQUENCE is not a CertificationRequest (certificationRequestInfo, signatureAlgorithm, signature)";
    }

    /**
     * Parses PEM or DER and verifies the request's own signature (proof of possession).
     *
     * @throws PkiException MALFORMED_REQUEST or BAD_SIGNATURE, with what was wrong
     */
    public static UntrustedCsr parse(byte[] input) {
        if (input == null || input.length == 0) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the CSR is empty; pass a PEM or DER PKCS#10 request");
        }
        if (input.length > MAX_BYTES) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the CSR is " + input.length
                    + " bytes, more than the " + MAX_BYTES + "-byte limit; a PKCS#10 request is a few hundred bytes");
        }
        Crypto.init();
        byte[] der = looksLikePem(input) ? pemToDer(input) : input;
        PKCS10CertificationRequest req;
        try {
            req = new PKCS10CertificationRequest(der);
        } catch (IOException | RuntimeException e) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the CSR is not valid DER-encoded PKCS#10: " + derProblem(der)
                    + "; check the file is a certificate request, e.g. with openssl req -in FILE -noout -text");
        }
        PublicKey key;
        try {
            key = publicKey(req);
        } catch (Exception e) {
            throw new PkiException(ErrorKind.KEY_POLICY, "the CSR's public key cannot be decoded: " + e.getMessage());
        }
        boolean ok;
        try {
            ok = req.isSignatureValid(Crypto.verifier(key));
        } catch (PKCSException | RuntimeException e) {
            throw new PkiException(ErrorKind.BAD_SIGNATURE, "the CSR's signature cannot be checked ("
                    + e.getMessage() + "); the request must be signed by the key it carries");
        }
        if (!ok) {
            throw new PkiException(ErrorKind.BAD_SIGNATURE, "the CSR's signature does not verify with its own public key: "
                    + "no proof of possession. The request was altered or signed with another key; make a new CSR on the device");
        }
        return of(req, key);
    }

    /**
     * A CRMF certificate request (RFC 4211 CertReqMsg, as CMP's ir, cr and kur carry) with its
     * proof of possession checked: a signature by the key in the template (POPOSigningKey, 4.1),
     * the only kind accepted (a key that cannot sign cannot be certified here anyway).
     *
     * @throws PkiException MALFORMED_REQUEST or BAD_SIGNATURE, with what was wrong
     */
    public static UntrustedCsr parseCertReqMsg(byte[] der) {
        if (der == null || der.length == 0 || der.length > MAX_BYTES) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the certificate request is empty or larger than " + MAX_BYTES + " bytes");
        }
        Crypto.init();
        CertificateRequestMessage m;
        SubjectPublicKeyInfo spki;
        try {
            m = new CertificateRequestMessage(CertReqMsg.getInstance(der));
            spki = m.getCertTemplate().getPublicKey();
        } catch (RuntimeException e) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the certificate request is not a CRMF CertReqMsg (RFC 4211 3): " + e.getMessage());
        }
        if (spki == null) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the certificate template has no publicKey; a device sends the public key of "
                    + "the key pair it made (central key generation is not offered)");
        }
        PublicKey key;
        try {
            key = publicKey(spki);
        } catch (Exception e) {
            throw new PkiException(ErrorKind.KEY_POLICY, "the template's public key cannot be decoded: " + e.getMessage());
        }
        if (!m.hasProofOfPossession() || m.getProofOfPossessionType() != CertificateRequestMessage.popSigningKey) {
            throw new PkiException(ErrorKind.BAD_SIGNATURE, "the certificate request has no signature proof of possession (RFC 4211 4.1); "
                    + "sign the request with the key to be certified");
        }
        boolean ok;
        try {
            ok = m.isValidSigningKeyPOP(Crypto.verifier(key));
        } catch (CRMFException | IllegalStateException | IllegalArgumentException e) {
            throw new PkiException(ErrorKind.BAD_SIGNATURE, "the proof of possession cannot be checked (" + e.getMessage()
                    + "); it must be a signature over the CertRequest by the key in the template");
        }
        if (!ok) {
            throw new PkiException(ErrorKind.BAD_SIGNATURE, "the proof of possession does not verify with the template's public key: "
                    + "the request was altered or signed with another key");
        }
        CertTemplate t = m.getCertTemplate();
        X500Name subject = t.getSubject() == null ? new X500Name(new RDN[0]) : t.getSubject();
        List<Extensions> exts = t.getExtensions() == null ? List.of() : List.of(t.getExtensions());
        try {
            return new UntrustedCsr(m.getEncoded(), subject, key, exts, new org.bouncycastle.asn1.pkcs.Attribute[0]);
        } catch (IOException e) {
            throw new PkiException(ErrorKind.INTERNAL, "cannot encode the certificate request", e);
        }
    }

    /** A request kept in the store (a pending one): PKCS#10 or CRMF, as it was received. */
    public static UntrustedCsr stored(byte[] der) {
        try {
            return parse(der);
        } catch (PkiException e) {
            if (e.kind() != ErrorKind.MALFORMED_REQUEST) {
                throw e;
            }
            return parseCertReqMsg(der);
        }
    }

    private static PublicKey publicKey(SubjectPublicKeyInfo spki) throws Exception {
        try {
            return new JcaPEMKeyConverter().getPublicKey(spki);
        } catch (Exception e) {
            return new JcaPEMKeyConverter().setProvider(Crypto.bc()).getPublicKey(spki);
        }
    }

    private static PublicKey publicKey(PKCS10CertificationRequest req) throws Exception {
        SubjectPublicKeyInfo spki = req.getSubjectPublicKeyInfo();
        if (spki.getAlgorithm().getAlgorithm().equals(org.bouncycastle.asn1.x9.X9ObjectIdentifiers.id_ecPublicKey)) {
            try {
                // by name: finding the KeyFactory by the OID (as BouncyCastle's helper does) costs more than the rest of the parse
                return java.security.KeyFactory.getInstance("EC").generatePublic(new java.security.spec.X509EncodedKeySpec(spki.getEncoded()));
            } catch (java.security.GeneralSecurityException | java.io.IOException e) {
                // a curve the JDK does not know: as below
            }
        }
        try {
            return new JcaPKCS10CertificationRequest(req).getPublicKey();
        } catch (Exception e) {
            return new JcaPKCS10CertificationRequest(req).setProvider(Crypto.bc()).getPublicKey();
        }
    }

    private static boolean looksLikePem(byte[] b) {
        int n = Math.min(b.length, 64);
        return new String(b, 0, n, StandardCharsets.ISO_8859_1).contains("-----BEGIN");
    }

    private static byte[] pemToDer(byte[] input) {
        String text = new String(input, StandardCharsets.US_ASCII);
        byte[] fast = plainPem(text);
        if (fast != null) {
            return fast;
        }
        try (PEMParser p = new PEMParser(new StringReader(text))) {
            Object o = p.readObject();
            if (o instanceof PKCS10CertificationRequest r) {
                return r.getEncoded();
            }
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the PEM input holds " + PemKind.of(o)
                    + ", not a CERTIFICATE REQUEST; pass the device's CSR");
        } catch (IOException | RuntimeException e) {
            if (e instanceof PkiException pe) {
                throw pe;
            }
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the CSR's PEM is damaged (" + e.getMessage()
                    + "); check the BEGIN/END lines and the base64 between them");
        }
    }

    /**
     * The DER of a plain PEM CSR (BEGIN and END lines of a CERTIFICATE REQUEST, base64 between,
     * no headers), or null for anything else, which the PEM parser then reads or refuses with its
     * reason. A batch of CSRs spends more in the PEM parser than in the signature check otherwise.
     */
    private static byte[] plainPem(String text) {
        for (String label : new String[] {"CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"}) {
            String begin = "-----BEGIN " + label + "-----";
            int b = text.indexOf(begin);
            if (b < 0) {
                continue;
            }
            int e = text.indexOf("-----END " + label + "-----", b + begin.length()); // after the BEGIN line, not within its dashes
            if (e < 0) {
                return null;
            }
            String body = text.substring(b + begin.length(), e);
            for (int i = 0; i < body.length(); i++) {
                char c = body.charAt(i);
                boolean base64 = c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=';
                if (!base64 && c != '\n' && c != '\r' && c != ' ' && c != '\t') {
                    return null; // headers or damage (the MIME decoder would skip it silently): the PEM parser says which
                }
            }
            try {
                return Base64.getMimeDecoder().decode(body);
            } catch (IllegalArgumentException bad) {
                return null;
            }
        }
        return null;
    }

    public PublicKey publicKey() {
        return publicKey;
    }

    /** The request's DER (as received, once verified): a PKCS#10 CertificationRequest, or a CRMF CertReqMsg. */
    public byte[] der() {
        return der.clone();
    }

    public X500Name subject() {
        return subject;
    }

    /** The subject's common name, or null when it has none. Several CNs are refused. */
    public String commonName() {
        return commonName(subject);
    }

    /** A name's common name, or null when it has none. Several CNs are refused. */
    public static String commonName(X500Name name) {
        RDN[] cns = name.getRDNs(BCStyle.CN);
        if (cns.length == 0) {
            return null;
        }
        if (cns.length > 1) {
            throw new PkiException(ErrorKind.NAME_MISMATCH, "the subject has " + cns.length
                    + " common names; a device's carries exactly one, its device id");
        }
        return IETFUtils.valueToString(cns[0].getFirst().getValue());
    }

    /** Subject alternative names the request asks for (checked by the pipeline, never copied blindly). */
    public List<GeneralName> requestedSubjectAltNames() {
        List<GeneralName> out = new ArrayList<>();
        for (Extensions exts : requestedExtensions) {
            GeneralNames names = GeneralNames.fromExtensions(exts, Extension.subjectAlternativeName);
            if (names != null) {
                out.addAll(List.of(names.getNames()));
            }
        }
        return out;
    }

    /**
     * Whether the request carries a challengePassword attribute (PKCS #9): a SCEP enrollment
     * password, or on EST the TLS channel binding of RFC 7030 3.5 (tls-unique).
     */
    public boolean hasChallengePassword() {
        return challenge.length > 0;
    }

    /** The challengePassword attribute's text (SCEP's credential), or null when there is none or it is not a string. */
    public String challengePassword() {
        var attrs = challenge;
        if (attrs.length != 1 || attrs[0].getAttrValues().size() != 1
                || !(attrs[0].getAttrValues().getObjectAt(0) instanceof ASN1String text)) {
            return null;
        }
        return text.getString();
    }
}
