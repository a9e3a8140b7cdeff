package dev.fleetpki.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.math.BigInteger;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.cert.CertificateFactory;
import java.security.cert.X509CRL;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Instant;
import java.util.Date;
import java.util.HexFormat;
import org.bouncycastle.asn1.ASN1Enumerated;
import org.bouncycastle.asn1.ASN1GeneralizedTime;
import org.bouncycastle.asn1.ASN1Integer;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.ExtensionsGenerator;
import org.bouncycastle.cert.X509CRLHolder;
import org.bouncycastle.cert.X509v2CRLBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.Test;

/**
 * The hand-written CRL encoder against BouncyCastle's builder: the to-be-signed part must be
 * byte-identical for entries that exercise every branch (serial with its high bit set, a leading
 * zero nibble, a 20-octet serial, no reason for "unspecified", reason and invalidity date, dates
 * before and after 2050), and the whole CRL must parse and verify with the JDK.
 */
class CrlWriterTest {
    private record Entry(String serialHex, long at, RevocationReason reason, long invalid) {}

    @Test
    void sameBytesAsBouncyCastleAndVerifies() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        KeyPair kp = g.generateKeyPair();
        X500Name name = new X500Name("CN=CRL Test CA,O=fleetpki test");
        var cb = new JcaX509v3CertificateBuilder(name, BigInteger.ONE, new Date(), new Date(System.currentTimeMillis() + 86_400_000L), name, kp.getPublic());
        cb.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
        cb.addExtension(Extension.subjectKeyIdentifier, false, new JcaX509ExtensionUtils().createSubjectKeyIdentifier(kp.getPublic()));
        X509Certificate ca = new JcaX509CertificateConverter().getCertificate(cb.build(new JcaContentSignerBuilder("SHA256withECDSA").build(kp.getPrivate())));

        Instant thisUpdate = Instant.parse("2026-11-30T06:00:00Z");
        Instant nextUpdate = Instant.parse("2026-12-07T06:00:00Z");
        Entry[] entries = {
            new Entry("80aa", Instant.parse("2026-11-01T12:34:56Z").toEpochMilli(), RevocationReason.KEY_COMPROMISE, 0),
            new Entry("0f01", Instant.parse("2026-02-28T23:59:59Z").toEpochMilli(), RevocationReason.UNSPECIFIED, 0),
            new Entry("1", Instant.parse("2000-01-01T00:00:00Z").toEpochMilli(), RevocationReason.SUPERSEDED,
                    Instant.parse("1999-12-31T10:00:00Z").toEpochMilli()),
            new Entry("ff" + "ee".repeat(18) + "dd", Instant.parse("2051-06-15T08:09:10Z").toEpochMilli(), RevocationReason.AA_COMPROMISE,
                    Instant.parse("2050-01-01T00:00:00Z").toEpochMilli()),
            new Entry("7fffffffffffffff", Instant.parse("2049-12-31T23:59:59Z").toEpochMilli(), RevocationReason.PRIVILEGE_WITHDRAWN, 0),
        };

        CrlWriter w = new CrlWriter(ca, thisUpdate, nextUpdate, 42, null, null);
        for (Entry e : entries) {
            w.add(e.serialHex(), e.at(), e.reason(), e.invalid());
        }
        ContentSigner signer = new JcaContentSignerBuilder("SHA256withECDSA").build(kp.getPrivate());
        byte[] ours = w.sign(signer);

        X509v2CRLBuilder bc = new X509v2CRLBuilder(name, Date.from(thisUpdate));
        bc.setNextUpdate(Date.from(nextUpdate));
        for (Entry e : entries) {
            ExtensionsGenerator ext = new ExtensionsGenerator();
            if (e.reason() != RevocationReason.UNSPECIFIED) {
                ext.addExtension(Extension.reasonCode, false, new ASN1Enumerated(e.reason().code()));
            }
            if (e.invalid() != 0) {
                ext.addExtension(Extension.invalidityDate, false, new ASN1GeneralizedTime(new Date(e.invalid())));
            }
            bc.addCRLEntry(new BigInteger(e.serialHex(), 16), new Date(e.at()), ext.isEmpty() ? null : ext.generate());
        }
        bc.addExtension(Extension.authorityKeyIdentifier, false, new JcaX509ExtensionUtils().createAuthorityKeyIdentifier(kp.getPublic()));
        bc.addExtension(Extension.cRLNumber, false, new ASN1Integer(42));
        X509CRLHolder reference = bc.build(new JcaContentSignerBuilder("SHA256withECDSA").build(kp.getPrivate()));

        X509CRLHolder parsed = new X509CRLHolder(ours);
        assertThat(HexFormat.of().formatHex(parsed.toASN1Structure().getTBSCertList().getEncoded("DER")))
                .isEqualTo(HexFormat.of().formatHex(reference.toASN1Structure().getTBSCertList().getEncoded("DER")));

        X509CRL crl = (X509CRL) CertificateFactory.getInstance("X.509").generateCRL(new ByteArrayInputStream(ours));
        crl.verify(kp.getPublic());
        assertThat(crl.getRevokedCertificates()).hasSize(entries.length);
        assertThat(crl.getRevokedCertificate(new BigInteger("80aa", 16)).getRevocationReason()).isEqualTo(java.security.cert.CRLReason.KEY_COMPROMISE);
        assertThat(crl.getRevokedCertificate(new BigInteger("f01", 16)).getRevocationReason()).isNull();
        assertThat(crl.getRevokedCertificate(new BigInteger("ff" + "ee".repeat(18) + "dd", 16)).getRevocationDate().toInstant())
                .isEqualTo(Instant.parse("2051-06-15T08:09:10Z"));
    }
}
