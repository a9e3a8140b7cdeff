package dev.fleetpki.core;

import dev.fleetpki.core.config.CaSpec;
import dev.fleetpki.core.config.FleetConfig;
import java.io.IOException;
import java.math.BigInteger;
import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.bouncycastle.asn1.ASN1Encodable;
import org.bouncycastle.asn1.ASN1Primitive;
import org.bouncycastle.asn1.DERNull;
import org.bouncycastle.asn1.DEROctetString;
import org.bouncycastle.asn1.ocsp.OCSPObjectIdentifiers;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.AccessDescription;
import org.bouncycastle.asn1.x509.AuthorityInformationAccess;
import org.bouncycastle.asn1.x509.AuthorityKeyIdentifier;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.CRLDistPoint;
import org.bouncycastle.asn1.x509.DistributionPoint;
import org.bouncycastle.asn1.x509.DistributionPointName;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.GeneralSubtree;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.asn1.x509.NameConstraints;
import org.bouncycastle.asn1.x509.SubjectKeyIdentifier;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.asn1.x509.Time;
import org.bouncycastle.cert.CertIOException;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.bc.BcX509ExtensionUtils;

/**
 * Builds the to-be-signed certificate for a profile kind: the extensions of RFC 5280 section 4.2
 * that make a device, peer, server, code-signing, OCSP-signing, CA or verification certificate.
 * Nothing from the request enters here except the public key and the already-checked names.
 */
public final class CertificateTemplate {
    private static final BcX509ExtensionUtils EXT = new BcX509ExtensionUtils();

    /**
     * Where issued certificates point relying parties (RFC 5280 4.2.1.13, 4.2.2.1).
     *
     * @param crl CRL URL template: {@code {ca}} is the issuer's name, {@code {shard}} the CRL shard the serial is listed on
     * @param crlShards how many shards an issuing or code-signing CA's CRL has (1: not partitioned)
     * @param rootName the root, whose CRL is never partitioned
     */
    public record Urls(String crl, String ocsp, String caIssuers, int crlShards, String rootName) {
        /** The URLs of this configuration. */
        public static Urls of(FleetConfig config) {
            return new Urls(config.crlUrl(), config.ocspUrl(), config.caIssuersUrl(), config.revocation().crlShards(), config.root().name());
        }

        /** The CRL distribution point of a certificate with this serial from this issuer. */
        public String crlFor(String issuerName, BigInteger serial) {
            int shards = issuerName.equals(rootName) ? 1 : crlShards;
            int shard = shards <= 1 ? 0 : serial.mod(BigInteger.valueOf(shards)).intValue();
            return crl.replace("{ca}", issuerName).replace("{shard}", Integer.toString(shard));
        }
    }

    /** The AKI for each issuer, computed once (issuers are few and long-lived). */
    private static final Map<X509Certificate, AuthorityKeyIdentifier> AKI = new ConcurrentHashMap<>();

    private CertificateTemplate() {}

    /** The authority key id of what this issuer signs: its subject key id, else computed from its key (RFC 5280 4.2.1.1). */
    static AuthorityKeyIdentifier authorityKeyId(X509Certificate issuer) {
        byte[] issuerSki = issuer.getExtensionValue(Extension.subjectKeyIdentifier.getId());
        return issuerSki != null
                ? new AuthorityKeyIdentifier(SubjectKeyIdentifier.getInstance(DEROctetString.getInstance(issuerSki).getOctets()).getKeyIdentifier())
                : EXT.createAuthorityKeyIdentifier(SubjectPublicKeyInfo.getInstance(issuer.getPublicKey().getEncoded()));
    }

    /** The validity time as RFC 5280 writes it, whole seconds ({@link Der#time}). */
    private static Time time(Instant t) {
        try {
            return Time.getInstance(ASN1Primitive.fromByteArray(Der.time(t.toEpochMilli())));
        } catch (IOException e) {
            throw new IllegalStateException("Der.time wrote a time that does not parse", e);
        }
    }

    /**
     * @param issuer the signing CA's certificate, or null for a self-signed root
     * @param issuerName the issuing CA's name, for URL templates
     * @param nameConstraints issuing-CA name constraints, or null
     */
    public static X509v3CertificateBuilder build(ProfileKind kind, int pathLength, X509Certificate issuer, String issuerName,
                                                 X500Name subject, List<GeneralName> sans, PublicKey subjectKey, BigInteger serial,
                                                 Instant notBefore, Instant notAfter, Urls urls, CaSpec nameConstraints) {
        try {
            SubjectPublicKeyInfo spki = SubjectPublicKeyInfo.getInstance(subjectKey.getEncoded());
            X500Name issuerDn = issuer == null ? subject : X500Name.getInstance(issuer.getSubjectX500Principal().getEncoded());
            var b = new X509v3CertificateBuilder(issuerDn, serial, time(notBefore), time(notAfter), subject, spki);
            boolean ca = kind == ProfileKind.SUB_CA;
            if (ca) {
                // RFC 5280 4.2.1.9: critical in CA certificates.
                b.addExtension(Extension.basicConstraints, true,
                        issuer == null || pathLength < 0 ? new BasicConstraints(true) : new BasicConstraints(pathLength));
                b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign | KeyUsage.digitalSignature));
            } else {
                int ku = KeyUsage.digitalSignature;
                boolean rsa = "RSA".equals(subjectKey.getAlgorithm());
                if (rsa && (kind == ProfileKind.SERVER_TLS || kind == ProfileKind.DEVICE || kind == ProfileKind.DEVICE_PEER
                        || kind == ProfileKind.SCEP_RA)) {
                    ku |= KeyUsage.keyEncipherment; // RSA key transport in TLS 1.2; SCEP requests are encrypted to the RA's key
                }
                b.addExtension(Extension.keyUsage, true, new KeyUsage(ku));
                if (!kind.extendedKeyUsages().isEmpty()) {
                    b.addExtension(Extension.extendedKeyUsage, false,
                            new ExtendedKeyUsage(kind.extendedKeyUsages().toArray(new KeyPurposeId[0])));
                }
            }
            SubjectKeyIdentifier ski = EXT.createSubjectKeyIdentifier(spki);
            b.addExtension(Extension.subjectKeyIdentifier, false, ski);
            if (issuer != null) {
                b.addExtension(Extension.authorityKeyIdentifier, false, AKI.computeIfAbsent(issuer, CertificateTemplate::authorityKeyId));
            } else {
                b.addExtension(Extension.authorityKeyIdentifier, false, new AuthorityKeyIdentifier(ski.getKeyIdentifier()));
            }
            if (!sans.isEmpty()) {
                // RFC 5280 4.2.1.6: critical when the subject is empty.
                b.addExtension(Extension.subjectAlternativeName, subject.getRDNs().length == 0,
                        new GeneralNames(sans.toArray(new GeneralName[0])));
            }
            if (issuer != null && urls.crl() != null) {
                // every certificate a CA signs names the CRL (shard) that would list it, OCSP signers and cloud-verification
                // certificates too: a partitioned CRL covers only the certificates naming its distribution point, and a relying
                // party checking every CRL (openssl verify -crl_check_all) finds none for a certificate without one (error 44)
                var dp = new DistributionPoint(new DistributionPointName(new GeneralNames(
                        new GeneralName(GeneralName.uniformResourceIdentifier, urls.crlFor(issuerName, serial)))), null, null);
                b.addExtension(Extension.cRLDistributionPoints, false, new CRLDistPoint(new DistributionPoint[] {dp}));
            }
            if (issuer != null && kind != ProfileKind.OCSP_SIGNING && kind != ProfileKind.CLOUD_VERIFICATION) {
                List<AccessDescription> aia = new ArrayList<>();
                // CA certificates carry no OCSP URL: the root signs them and may be offline, so their revocation is published on
                // the root's CRL only, and a responder asked about them could only answer unauthorized (RFC 6960 2.3)
                if (urls.ocsp() != null && kind != ProfileKind.SUB_CA) {
                    aia.add(new AccessDescription(AccessDescription.id_ad_ocsp,
                            new GeneralName(GeneralName.uniformResourceIdentifier, urls.ocsp().replace("{ca}", issuerName))));
                }
                if (urls.caIssuers() != null) {
                    aia.add(new AccessDescription(AccessDescription.id_ad_caIssuers,
                            new GeneralName(GeneralName.uniformResourceIdentifier, urls.caIssuers().replace("{ca}", issuerName))));
                }
                if (!aia.isEmpty()) {
                    b.addExtension(Extension.authorityInfoAccess, false, new AuthorityInformationAccess(aia.toArray(new AccessDescription[0])));
                }
            }
            if (kind == ProfileKind.OCSP_SIGNING) {
                // RFC 6960 4.2.2.2.1: relying parties need not check the responder's own status.
                b.addExtension(OCSPObjectIdentifiers.id_pkix_ocsp_nocheck, false, DERNull.INSTANCE);
            }
            if (nameConstraints != null && nameConstraints.hasNameConstraints()) {
                b.addExtension(Extension.nameConstraints, true, nameConstraints(nameConstraints));
            }
            return b;
        } catch (CertIOException e) {
            throw new PkiException(ErrorKind.INTERNAL, "cannot build certificate extensions: " + e.getMessage(), e);
        }
    }

    private static ASN1Encodable nameConstraints(CaSpec c) {
        List<GeneralSubtree> permitted = new ArrayList<>();
        c.permittedDns().forEach(d -> permitted.add(new GeneralSubtree(new GeneralName(GeneralName.dNSName, d))));
        c.permittedUris().forEach(u -> permitted.add(new GeneralSubtree(new GeneralName(GeneralName.uniformResourceIdentifier, u))));
        List<GeneralSubtree> excluded = new ArrayList<>();
        c.excludedDns().forEach(d -> excluded.add(new GeneralSubtree(new GeneralName(GeneralName.dNSName, d))));
        return new NameConstraints(permitted.isEmpty() ? null : permitted.toArray(new GeneralSubtree[0]),
                excluded.isEmpty() ? null : excluded.toArray(new GeneralSubtree[0]));
    }

}
