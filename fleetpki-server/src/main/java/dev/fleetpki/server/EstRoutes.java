package dev.fleetpki.server;

import dev.fleetpki.core.CaRecord;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.Profile;
import io.javalin.Javalin;
import io.javalin.http.Context;
import java.util.Base64;
import org.bouncycastle.cert.jcajce.JcaCertStore;
import org.bouncycastle.cms.CMSAbsentContent;
import org.bouncycastle.cms.CMSSignedDataGenerator;

/**
 * EST (RFC 7030, with RFC 8951): {@code /.well-known/est[/<label>]/cacerts}. A label names a
 * certificate profile (no label: {@code device}); the answer is the CA certificates a client
 * needs for that profile (the issuing CA, then the CAs above it up to the root) as a base64
 * certs-only CMS SignedData, {@code application/pkcs7-mime}. Per RFC 7030 4.1.1 it needs no
 * authentication. Enrollment (simpleenroll, simplereenroll, csrattrs, serverkeygen) follows.
 */
final class EstRoutes {
    static final String DEFAULT_LABEL = "device";
    private final Services s;

    EstRoutes(Services s) {
        this.s = s;
    }

    void register(Javalin app) {
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
    private void csrattrs(Context ctx, String label) throws java.io.IOException {
        Profile profile = profile(label);
        dev.fleetpki.kms.KeyAlgorithm preferred = java.util.Arrays.stream(dev.fleetpki.kms.KeyAlgorithm.values())
                .filter(profile.keyAlgorithms()::contains).findFirst().orElse(dev.fleetpki.kms.KeyAlgorithm.EC_P256);
        org.bouncycastle.asn1.ASN1EncodableVector attrs = new org.bouncycastle.asn1.ASN1EncodableVector();
        switch (preferred) {
            case EC_P256 -> attrs.add(attribute(org.bouncycastle.asn1.x9.X9ObjectIdentifiers.id_ecPublicKey,
                    org.bouncycastle.asn1.sec.SECObjectIdentifiers.secp256r1));
            case EC_P384 -> attrs.add(attribute(org.bouncycastle.asn1.x9.X9ObjectIdentifiers.id_ecPublicKey,
                    org.bouncycastle.asn1.sec.SECObjectIdentifiers.secp384r1));
            case RSA_2048, RSA_3072, RSA_4096 -> attrs.add(attribute(org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers.rsaEncryption,
                    new org.bouncycastle.asn1.ASN1Integer(Integer.parseInt(preferred.configName().substring(4)))));
            case ED25519 -> attrs.add(org.bouncycastle.asn1.edec.EdECObjectIdentifiers.id_Ed25519);
            case ML_DSA_65 -> attrs.add(org.bouncycastle.asn1.nist.NISTObjectIdentifiers.id_ml_dsa_65);
        }
        switch (preferred) {
            case EC_P256, RSA_2048, RSA_3072 -> attrs.add(preferred == dev.fleetpki.kms.KeyAlgorithm.EC_P256
                    ? org.bouncycastle.asn1.x9.X9ObjectIdentifiers.ecdsa_with_SHA256 : org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers.sha256WithRSAEncryption);
            case EC_P384 -> attrs.add(org.bouncycastle.asn1.x9.X9ObjectIdentifiers.ecdsa_with_SHA384);
            case RSA_4096 -> attrs.add(org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers.sha384WithRSAEncryption);
            default -> { } // Ed25519 and ML-DSA name their signature with the key
        }
        byte[] der = new org.bouncycastle.asn1.DERSequence(attrs).getEncoded(org.bouncycastle.asn1.ASN1Encoding.DER);
        ctx.header("Content-Transfer-Encoding", "base64").contentType("application/csrattrs")
                .result(Base64.getMimeEncoder(64, new byte[] {'\r', '\n'}).encodeToString(der) + "\r\n");
    }

    private static org.bouncycastle.asn1.ASN1Encodable attribute(org.bouncycastle.asn1.ASN1ObjectIdentifier type, org.bouncycastle.asn1.ASN1Encodable value) {
        return new org.bouncycastle.asn1.x509.Attribute(type, new org.bouncycastle.asn1.DERSet(value));
    }

    private Profile profile(String label) {
        return s.config().profile(label).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND,
                "no EST label '" + label + "'; a label is a certificate profile name: " + String.join(", ", s.config().profiles().keySet())));
    }

    private void cacerts(Context ctx, String label) throws Exception {
        Profile profile = profile(label);
        String issuer = s.pipeline().issuerFor(profile);
        CaRecord ca = s.store().ca(issuer).orElseThrow(() -> new PkiException(ErrorKind.CONFIG,
                "profile '" + label + "' is signed by CA '" + issuer + "', which is not in the store; run the ceremony"));
        CMSSignedDataGenerator gen = new CMSSignedDataGenerator();
        gen.addCertificates(new JcaCertStore(s.cas().chainFrom(ca)));
        byte[] der = gen.generate(new CMSAbsentContent()).getEncoded(org.bouncycastle.asn1.ASN1Encoding.DER); // DER, not BER: small parsers
        ctx.header("Content-Transfer-Encoding", "base64")
                .contentType("application/pkcs7-mime; smime-type=certs-only")
                .result(Base64.getMimeEncoder(64, new byte[] {'\r', '\n'}).encodeToString(der) + "\r\n");
    }
}
