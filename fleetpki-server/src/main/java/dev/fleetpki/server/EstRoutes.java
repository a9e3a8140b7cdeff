package dev.fleetpki.server;

import dev.fleetpki.core.CaRecord;
import dev.fleetpki.core.CaRollover;
import dev.fleetpki.core.EnrollmentCredential;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.IssuedCertificate;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.Profile;
import dev.fleetpki.core.UntrustedCsr;
import dev.fleetpki.core.enrollment.Enrollment;
import dev.fleetpki.kms.KeyAlgorithm;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import org.bouncycastle.asn1.ASN1Encodable;
import org.bouncycastle.asn1.ASN1EncodableVector;
import org.bouncycastle.asn1.ASN1Encoding;
import org.bouncycastle.asn1.ASN1Integer;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.DERSequence;
import org.bouncycastle.asn1.DERSet;
import org.bouncycastle.asn1.edec.EdECObjectIdentifiers;
import org.bouncycastle.asn1.nist.NISTObjectIdentifiers;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.sec.SECObjectIdentifiers;
import org.bouncycastle.asn1.x509.Attribute;
import org.bouncycastle.asn1.x9.X9ObjectIdentifiers;

/**
 * EST (RFC 7030, with RFC 8951): {@code /.well-known/est[/<label>]/cacerts}. A label names a
 * certificate profile (no label: {@code device}); the answer is the CA certificates a client
 * needs for that profile (the issuing CA, then the CAs above it up to the root) as a base64
 * certs-only CMS SignedData, {@code application/pkcs7-mime}. Per RFC 7030 4.1.1 it needs no
 * authentication. simpleenroll, simplereenroll and serverkeygen take a base64 PKCS#10 request and
 * an enrollment credential ({@link Credentials}); the fleet's rule decides ({@link Enrollment}), and {@link EnrollmentAnswers} turns its outcome into HTTP.
 */
final class EstRoutes {
    static final String DEFAULT_LABEL = "device";
    private final Services s;
    private final Credentials credentials;
    private final Enrollment enrollment;

    EstRoutes(Services s, Credentials credentials, Enrollment enrollment) {
        this.s = s;
        this.credentials = credentials;
        this.enrollment = enrollment;
    }

    void register(RoutesConfig app) {
        app.post("/.well-known/est/simpleenroll", ctx -> enroll(ctx, DEFAULT_LABEL, false));
        app.post("/.well-known/est/{label}/simpleenroll", ctx -> enroll(ctx, ctx.pathParam("label"), false));
        app.post("/.well-known/est/simplereenroll", ctx -> enroll(ctx, DEFAULT_LABEL, true));
        app.post("/.well-known/est/{label}/simplereenroll", ctx -> enroll(ctx, ctx.pathParam("label"), true));
        app.post("/.well-known/est/serverkeygen", ctx -> serverKeygen(ctx, DEFAULT_LABEL));
        app.post("/.well-known/est/{label}/serverkeygen", ctx -> serverKeygen(ctx, ctx.pathParam("label")));
        app.get("/.well-known/est/cacerts", ctx -> cacerts(ctx, DEFAULT_LABEL));
        app.get("/.well-known/est/{label}/cacerts", ctx -> cacerts(ctx, ctx.pathParam("label")));
        app.get("/.well-known/est/csrattrs", ctx -> csrattrs(ctx, DEFAULT_LABEL));
        app.get("/.well-known/est/{label}/csrattrs", ctx -> csrattrs(ctx, ctx.pathParam("label")));
    }

    /**
     * RFC 7030 4.5: which key the CSR should carry. The profile's preferred key algorithm (the
     * first it accepts in the order P-256, P-384, Ed25519, RSA 2048/3072/4096, ML-DSA-65) as in
     * RFC 7030's example: an id-ecPublicKey attribute naming the curve, rsaEncryption with the key
     * size, or the bare algorithm OID; then the signature algorithm to sign the CSR with. The
     * subject rule (CN = the registered device id) is the profile's, stated in docs/est.md.
     */
    private void csrattrs(Context ctx, String label) throws IOException {
        Profile profile = profile(label);
        KeyAlgorithm preferred = profile.preferredKeyAlgorithm();
        ASN1EncodableVector attrs = new ASN1EncodableVector();
        switch (preferred) {
            case EC_P256 -> attrs.add(attribute(X9ObjectIdentifiers.id_ecPublicKey,
                    SECObjectIdentifiers.secp256r1));
            case EC_P384 -> attrs.add(attribute(X9ObjectIdentifiers.id_ecPublicKey,
                    SECObjectIdentifiers.secp384r1));
            case RSA_2048, RSA_3072, RSA_4096 -> attrs.add(attribute(PKCSObjectIdentifiers.rsaEncryption,
                    new ASN1Integer(Integer.parseInt(preferred.configName().substring(4)))));
            case ED25519 -> attrs.add(EdECObjectIdentifiers.id_Ed25519);
            case ML_DSA_65 -> attrs.add(NISTObjectIdentifiers.id_ml_dsa_65);
        }
        switch (preferred) {
            case EC_P256, RSA_2048, RSA_3072 -> attrs.add(preferred == KeyAlgorithm.EC_P256
                    ? X9ObjectIdentifiers.ecdsa_with_SHA256 : PKCSObjectIdentifiers.sha256WithRSAEncryption);
            case EC_P384 -> attrs.add(X9ObjectIdentifiers.ecdsa_with_SHA384);
            case RSA_4096 -> attrs.add(PKCSObjectIdentifiers.sha384WithRSAEncryption);
            default -> { } // Ed25519 and ML-DSA name their signature with the key
        }
        byte[] der = new DERSequence(attrs).getEncoded(ASN1Encoding.DER);
        ctx.header("Content-Transfer-Encoding", "base64").contentType("application/csrattrs")
                .result(Base64.getMimeEncoder(64, new byte[] {'\r', '\n'}).encodeToString(der) + "\r\n");
    }

    private static ASN1Encodable attribute(ASN1ObjectIdentifier type, ASN1Encodable value) {
        return new Attribute(type, new DERSet(value));
    }

    private Profile profile(String label) {
        return s.config().profile(label).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND,
                "no EST label '" + label + "'; a label is a certificate profile name: " + String.join(", ", new java.util.TreeSet<>(s.config().profiles().keySet()))));
    }

    /** RFC 7030 4.2: a base64 PKCS#10 body in, the certificate as certs-only CMS out (or 202 while an operator decides). */
    private void enroll(Context ctx, String label, boolean renewal) throws Exception {
        Profile profile = profile(label);
        EnrollmentCredential cred = credentials.enrollment(ctx);
        String protocol = renewal ? "est-reenroll" : "est";
        UntrustedCsr csr = csr(ctx, profile.name(), protocol);
        Enrollment.Outcome outcome = EnrollmentAnswers.orRefuse(enrollment.enroll(cred, csr, profile.name(), null, protocol, renewal));
        switch (outcome) {
            case Enrollment.Issued i -> certsOnly(ctx, List.of(i.certificate().der()));
            case Enrollment.Pending p -> EnrollmentAnswers.pending(ctx, p.request()).contentType("text/plain; charset=utf-8")
                    .result("request " + p.request().id() + " for device '" + p.request().deviceId() + "' waits for an operator; "
                            + "send the same CSR again after " + EnrollmentAnswers.RETRY_AFTER_SECONDS + " s\n");
            default -> throw new IllegalStateException("an enrollment with a CSR answered " + outcome);
        }
    }

    /**
     * RFC 7030 4.4: the server makes the key pair (the profile's preferred algorithm, as csrattrs
     * names it), certifies it with the CSR's subject, and returns the private key as an
     * unencrypted PKCS#8 part and the certificate as a certs-only part of a multipart/mixed
     * answer, over the TLS connection only. Only credentials the fleet rule lists in
     * serverKeygen may ask; the key is never stored or logged.
     */
    private void serverKeygen(Context ctx, String label) throws Exception {
        Profile profile = profile(label);
        EnrollmentCredential cred = credentials.enrollment(ctx);
        UntrustedCsr csr = csr(ctx, profile.name(), "est-serverkeygen");
        if (!(EnrollmentAnswers.orRefuse(enrollment.enrollServerKey(cred, csr, profile.name(), "est-serverkeygen"))
                instanceof Enrollment.IssuedWithKey(IssuedCertificate issued, PrivateKey key))) {
            throw new IllegalStateException("server key generation answered neither a key nor a refusal");
        }
        String boundary = "fleetpki-" + Long.toHexString(System.nanoTime());
        Base64.Encoder b64 = Base64.getMimeEncoder(64, new byte[] {'\r', '\n'});
        String body = "--" + boundary + "\r\n"
                + "Content-Type: application/pkcs8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                + b64.encodeToString(key.getEncoded()) + "\r\n"
                + "--" + boundary + "\r\n"
                + "Content-Type: application/pkcs7-mime; smime-type=certs-only\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                + b64.encodeToString(CertsOnly.der(List.of(issued.der()))) + "\r\n"
                + "--" + boundary + "--\r\n";
        ctx.header("Cache-Control", "no-store").contentType("multipart/mixed; boundary=" + boundary).result(body);
    }

    /** The DER of an EST body: strict base64 once line breaks and spaces are gone (the MIME decoder would skip stray characters). */
    static byte[] csrFromBody(byte[] body) {
        byte[] der;
        try {
            der = Base64.getDecoder().decode(new String(body, StandardCharsets.ISO_8859_1).replaceAll("[\\s]", ""));
        } catch (IllegalArgumentException e) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the body is not base64 (" + e.getMessage()
                    + "); EST sends the DER CSR base64-encoded: openssl req -outform DER | base64");
        }
        if (der.length == 0) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the body is empty; send the base64 DER PKCS#10 request");
        }
        return der;
    }

    /** The request body: base64 DER PKCS#10 (RFC 8951: whatever Content-Transfer-Encoding says) of type application/pkcs10. */
    private UntrustedCsr csr(Context ctx, String profile, String protocol) {
        String type = String.valueOf(ctx.contentType()).toLowerCase(Locale.ROOT);
        EnrollmentAnswers.checkSource(enrollment, ctx.ip(), protocol);
        try {
            if (!type.startsWith("application/pkcs10")) {
                throw new HttpProblem(415, "unsupported-media-type", "Unsupported media type",
                        "send the CSR as base64 DER with Content-Type: application/pkcs10 (got " + (ctx.contentType() == null ? "none" : type) + ")");
            }
            UntrustedCsr csr = UntrustedCsr.parse(csrFromBody(ctx.bodyAsBytes()));
            if (csr.hasChallengePassword()) {
                // RFC 7030 3.5: on EST a challengePassword carries tls-unique; this server cannot check it (TLS 1.3 has no
                // tls-unique, and Jetty does not expose the TLS 1.2 Finished message), so it does not pretend to
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the CSR carries a challengePassword (on EST: the tls-unique channel "
                        + "binding of RFC 7030 3.5), which this server cannot check; make the CSR without it (the client is "
                        + "authenticated by its credential on this TLS connection)");
            }
            return csr;
        } catch (PkiException e) {
            s.metrics().refused(e.kind(), profile, protocol);
            enrollment.malformed(ctx.ip());
            throw e;
        }
    }


    private static void certsOnly(Context ctx, List<byte[]> certs) {
        ctx.header("Content-Transfer-Encoding", "base64")
                .contentType("application/pkcs7-mime; smime-type=certs-only")
                .result(Base64.getMimeEncoder(64, new byte[] {'\r', '\n'}).encodeToString(CertsOnly.der(certs)) + "\r\n");
    }

    private void cacerts(Context ctx, String label) throws Exception {
        Profile profile = profile(label);
        String issuer = s.pipeline().issuerFor(profile);
        CaRecord ca = s.caRecords().ca(issuer).orElseThrow(() -> new PkiException(ErrorKind.CONFIG,
                "profile '" + label + "' is signed by CA '" + issuer + "', which is not in the store; run the ceremony"));
        // during a root rollover, RFC 7030 4.1.3's root CA key update certificates too: devices that trust the old
        // root learn the new one through new-with-old (docs/rollover.md)
        java.util.Set<X509Certificate> certs = new java.util.LinkedHashSet<>(s.cas().chainFrom(ca));
        certs.addAll(CaRollover.rootKeyUpdates(s.caRecords()));
        List<byte[]> chain = new ArrayList<>();
        for (X509Certificate c : certs) {
            chain.add(c.getEncoded());
        }
        certsOnly(ctx, chain);
    }
}
