package dev.fleetpki.core;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.KeyRef;
import dev.fleetpki.kms.SigningKey;
import java.math.BigInteger;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.HexFormat;
import java.util.List;
import org.bouncycastle.asn1.ASN1GeneralizedTime;
import org.bouncycastle.asn1.ASN1Integer;
import org.bouncycastle.asn1.DERNull;
import org.bouncycastle.asn1.DEROctetString;
import org.bouncycastle.asn1.nist.NISTObjectIdentifiers;
import org.bouncycastle.asn1.ocsp.CertID;
import org.bouncycastle.asn1.ocsp.OCSPObjectIdentifiers;
import org.bouncycastle.asn1.ocsp.ResponderID;
import org.bouncycastle.asn1.ocsp.RevokedInfo;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.AlgorithmIdentifier;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.CRLReason;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.Extensions;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.cert.ocsp.BasicOCSPResp;
import org.bouncycastle.cert.ocsp.BasicOCSPRespBuilder;
import org.bouncycastle.cert.ocsp.CertificateID;
import org.bouncycastle.cert.ocsp.CertificateStatus;
import org.bouncycastle.cert.ocsp.OCSPResp;
import org.bouncycastle.cert.ocsp.OCSPRespBuilder;
import org.bouncycastle.cert.ocsp.RespID;
import org.bouncycastle.cert.ocsp.RevokedStatus;
import org.bouncycastle.cert.ocsp.SingleResp;
import org.bouncycastle.cert.ocsp.UnknownStatus;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.operator.jcajce.JcaContentVerifierProviderBuilder;
import org.junit.jupiter.api.Test;

/**
 * The hand-written OCSP response encoder against BouncyCastle's builders, which fleetpki used
 * before: with a deterministic signature (RSA PKCS #1 v1.5) the whole response must be
 * byte-identical, for a delegated signer (its certificate included) and a CA signing itself (none),
 * for every status (good, revoked with and without a reason, with a revocation time that has
 * milliseconds, unknown), with and without nextUpdate and a nonce, several answers in one response,
 * SHA-1 and SHA-256 CertIDs, and times before and after 2050. With ECDSA (randomised) the response
 * must parse and its signature verify.
 */
class OcspSignerTest {
    private static final Instant PRODUCED = Instant.parse("2026-11-30T14:05:06.789Z");
    private static final Instant THIS_UPDATE = Instant.parse("2026-11-30T14:05:06Z");
    private static final Instant NEXT_UPDATE = Instant.parse("2026-12-07T14:05:06Z");

    @Test
    void sameBytesAsBouncyCastleForEveryStatusNonceAndSigner() throws Exception {
        Pki pki = Pki.make("RSA", "SHA256withRSA");
        KeyPair caKeys = pki.caKeys();
        X509Certificate ca = pki.ca();
        KeyPair delegateKeys = pki.delegateKeys();
        X509Certificate delegate = pki.delegate();
        OcspSigner.Issuer issuer = pki.issuer();

        CertificateID sha256Id = new CertificateID(new CertID(new AlgorithmIdentifier(NISTObjectIdentifiers.id_sha256, DERNull.INSTANCE),
                new DEROctetString(issuer.sha256NameHash()), new DEROctetString(issuer.sha256KeyHash()), new ASN1Integer(new BigInteger("ff00ee", 16))));
        List<OcspSigner.Answer> all = List.of(
                new OcspSigner.Answer(issuer.sha1Id(new BigInteger("80aa", 16)), OcspSigner.GOOD, THIS_UPDATE, NEXT_UPDATE),
                new OcspSigner.Answer(issuer.sha1Id(new BigInteger("7f01", 16)),
                        new OcspSigner.Status.Revoked(Instant.parse("2026-11-01T12:34:56.999Z"), RevocationReason.KEY_COMPROMISE), THIS_UPDATE, NEXT_UPDATE),
                new OcspSigner.Answer(issuer.sha1Id(BigInteger.ONE),
                        new OcspSigner.Status.Revoked(Instant.parse("2051-06-15T08:09:10Z"), RevocationReason.UNSPECIFIED), THIS_UPDATE, null),
                new OcspSigner.Answer(sha256Id, OcspSigner.UNKNOWN, THIS_UPDATE, NEXT_UPDATE),
                new OcspSigner.Answer(issuer.sha1Id(new BigInteger("ff" + "ee".repeat(18) + "dd", 16)),
                        new OcspSigner.Status.Revoked(Instant.parse("2049-12-31T23:59:59Z"), RevocationReason.CESSATION_OF_OPERATION),
                        Instant.parse("2050-01-01T00:00:00Z"), Instant.parse("2050-01-08T00:00:00Z")));
        Extension nonce = new Extension(OCSPObjectIdentifiers.id_pkix_ocsp_nonce, false, new DEROctetString(new DEROctetString(new byte[16])));

        int compared = 0;
        for (boolean delegated : new boolean[] {true, false}) {
            X509Certificate signerCert = delegated ? delegate : ca;
            PrivateKey signerKey = delegated ? delegateKeys.getPrivate() : caKeys.getPrivate();
            OcspSigner ours = new OcspSigner(issuer, signerCert, key(signerCert.getPublicKey(), signerKey, "SHA256withRSA"));
            for (Extension n : new Extension[] {null, nonce}) {
                List<List<OcspSigner.Answer>> sets = new ArrayList<>();
                all.forEach(a -> sets.add(List.of(a)));
                sets.add(all);
                for (List<OcspSigner.Answer> answers : sets) {
                    byte[] mine = ours.sign(answers, n, PRODUCED);
                    byte[] reference = bouncyCastle(answers, n, signerCert, signerKey, delegated);
                    assertThat(HexFormat.of().formatHex(mine)).as("delegated=%s nonce=%s answers=%d", delegated, n != null, answers.size())
                            .isEqualTo(HexFormat.of().formatHex(reference));
                    compared++;
                }
            }
        }
        assertThat(compared).isEqualTo(2 * 2 * (all.size() + 1));
    }

    @Test
    void ecdsaResponsesParseAndVerify() throws Exception {
        Pki pki = Pki.make("EC", "SHA256withECDSA");
        KeyPair caKeys = pki.caKeys();
        X509Certificate delegate = pki.delegate();
        OcspSigner.Issuer issuer = pki.issuer();
        OcspSigner signer = new OcspSigner(issuer, delegate, key(delegate.getPublicKey(), pki.delegateKeys().getPrivate(), "SHA256withECDSA"));

        OCSPResp resp = OcspSigner.parse(signer.sign(List.of(new OcspSigner.Answer(issuer.sha1Id(new BigInteger("1234", 16)),
                new OcspSigner.Status.Revoked(Instant.parse("2026-11-02T03:04:05Z"), RevocationReason.SUPERSEDED), THIS_UPDATE, NEXT_UPDATE)), null, PRODUCED));
        assertThat(resp.getStatus()).isEqualTo(OCSPResp.SUCCESSFUL);
        BasicOCSPResp basic = (BasicOCSPResp) resp.getResponseObject();
        assertThat(basic.getCerts()).hasSize(1);
        assertThat(basic.isSignatureValid(new JcaContentVerifierProviderBuilder().build(delegate.getPublicKey()))).isTrue();
        assertThat(basic.isSignatureValid(new JcaContentVerifierProviderBuilder().build(caKeys.getPublic()))).isFalse();
        SingleResp single = basic.getResponses()[0];
        assertThat(single.getCertID().getSerialNumber()).isEqualTo(new BigInteger("1234", 16));
        RevokedStatus revoked = (RevokedStatus) single.getCertStatus();
        assertThat(revoked.getRevocationTime().toInstant()).isEqualTo(Instant.parse("2026-11-02T03:04:05Z"));
        assertThat(revoked.getRevocationReason()).isEqualTo(RevocationReason.SUPERSEDED.code());
        assertThat(basic.getProducedAt().toInstant()).isEqualTo(Instant.parse("2026-11-30T14:05:06Z"));
        assertThat(single.getNextUpdate().toInstant()).isEqualTo(NEXT_UPDATE);
    }

    /** What OcspSigner.sign did before it wrote DER by hand: BouncyCastle's builders. */
    private static byte[] bouncyCastle(List<OcspSigner.Answer> answers, Extension nonce, X509Certificate signerCert, PrivateKey key, boolean delegated)
            throws Exception {
        RespID id = new RespID(new ResponderID(new DEROctetString(java.security.MessageDigest.getInstance("SHA-1")
                .digest(SubjectPublicKeyInfo.getInstance(signerCert.getPublicKey().getEncoded()).getPublicKeyData().getBytes()))));
        BasicOCSPRespBuilder b = new BasicOCSPRespBuilder(id);
        for (OcspSigner.Answer a : answers) {
            CertificateStatus status = switch (a.status()) {
                case OcspSigner.Status.Good g -> CertificateStatus.GOOD;
                case OcspSigner.Status.Unknown u -> new UnknownStatus();
                case OcspSigner.Status.Revoked r -> new RevokedStatus(new RevokedInfo(new ASN1GeneralizedTime(Date.from(r.at())),
                        r.reason() == RevocationReason.UNSPECIFIED ? null : CRLReason.lookup(r.reason().code())));
            };
            b.addResponse(a.id(), status, Date.from(a.thisUpdate()), a.nextUpdate() == null ? null : Date.from(a.nextUpdate()), null);
        }
        if (nonce != null) {
            b.setResponseExtensions(new Extensions(nonce));
        }
        X509CertificateHolder[] chain = delegated ? new X509CertificateHolder[] {new X509CertificateHolder(signerCert.getEncoded())}
                : new X509CertificateHolder[0];
        ContentSigner cs = new JcaContentSignerBuilder("SHA256withRSA").build(key);
        return new OCSPRespBuilder().build(OCSPRespBuilder.SUCCESSFUL, b.build(cs, chain, Date.from(PRODUCED))).getEncoded();
    }

    /** A CA and a delegated OCSP signer it certified, both with {@code keyAlg} keys. */
    private record Pki(KeyPair caKeys, X509Certificate ca, KeyPair delegateKeys, X509Certificate delegate, OcspSigner.Issuer issuer) {
        static Pki make(String keyAlg, String sigAlg) throws Exception {
            KeyPair caKeys = keys(keyAlg);
            X509Certificate ca = certificate("CN=OCSP Test CA", caKeys, "CN=OCSP Test CA", caKeys.getPrivate(), sigAlg, true);
            KeyPair delegateKeys = keys(keyAlg);
            X509Certificate delegate = certificate("CN=OCSP Test Signer", delegateKeys, "CN=OCSP Test CA", caKeys.getPrivate(), sigAlg, false);
            return new Pki(caKeys, ca, delegateKeys, delegate, OcspSigner.Issuer.of("issuing", ca));
        }
    }

    private static KeyPair keys(String alg) throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance(alg);
        if (alg.equals("EC")) {
            g.initialize(new ECGenParameterSpec("secp256r1"));
        } else {
            g.initialize(2048);
        }
        return g.generateKeyPair();
    }

    private static X509Certificate certificate(String subject, KeyPair subjectKeys, String issuer, PrivateKey issuerKey, String sigAlg, boolean ca)
            throws Exception {
        var b = new JcaX509v3CertificateBuilder(new X500Name(issuer), BigInteger.valueOf(System.nanoTime()), new Date(),
                new Date(System.currentTimeMillis() + 86_400_000L), new X500Name(subject), subjectKeys.getPublic());
        b.addExtension(Extension.basicConstraints, true, new BasicConstraints(ca));
        return new JcaX509CertificateConverter().getCertificate(b.build(new JcaContentSignerBuilder(sigAlg).build(issuerKey)));
    }

    private static SigningKey key(PublicKey pub, PrivateKey priv, String sigAlg) {
        return new SigningKey() {
            @Override
            public KeyRef ref() {
                return KeyRef.parse("file:test.key");
            }

            @Override
            public PublicKey publicKey() {
                return pub;
            }

            @Override
            public KeyAlgorithm algorithm() {
                return KeyAlgorithm.of(pub);
            }

            @Override
            public ContentSigner contentSigner() {
                try {
                    return new JcaContentSignerBuilder(sigAlg).build(priv);
                } catch (org.bouncycastle.operator.OperatorCreationException e) {
                    throw new IllegalStateException(e);
                }
            }

            @Override
            public String location() {
                return "test key in memory";
            }

            @Override
            public PrivateKey handle() {
                return priv;
            }

            @Override
            public java.security.Provider provider() {
                return null;
            }
        };
    }
}
