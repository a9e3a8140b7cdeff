package dev.fleetpki.core;

import java.io.ByteArrayInputStream;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.Objects;

/**
 * A certificate fleetpki signed, as stored. Issuance hands over the DER it signed with the
 * validity and subject it already knows; the JCA {@link X509Certificate} is decoded only when
 * someone asks for it (the store needs the bytes, not a parsed object).
 *
 * @param serialHex lowercase hex serial number (the store's unique key)
 * @param proofOfPossession false only for certificates issued from a bare public key by a factory station
 */
public final class IssuedCertificate {
    private final String serialHex;
    private final String caName;
    private final String deviceId;
    private final String profile;
    private final byte[] der;
    private final Instant notBefore;
    private final Instant notAfter;
    private final String subject;
    private final boolean proofOfPossession;
    private final String keyLocation;
    private final Actor issuedBy;
    private final Instant issuedAt;
    private final String protocol;
    private volatile X509Certificate certificate;

    /** From a decoded certificate (what the store reads back). */
    public IssuedCertificate(String serialHex, String caName, String deviceId, String profile, X509Certificate certificate,
                             boolean proofOfPossession, String keyLocation, Actor issuedBy, Instant issuedAt, String protocol) {
        this(serialHex, caName, deviceId, profile, encoded(certificate), certificate.getNotBefore().toInstant(), certificate.getNotAfter().toInstant(),
                certificate.getSubjectX500Principal().getName(), proofOfPossession, keyLocation, issuedBy, issuedAt, protocol);
        this.certificate = certificate;
    }

    /**
     * From the DER just signed, with the validity and subject (RFC 2253 form) it encodes.
     */
    public IssuedCertificate(String serialHex, String caName, String deviceId, String profile, byte[] der, Instant notBefore, Instant notAfter,
                             String subject, boolean proofOfPossession, String keyLocation, Actor issuedBy, Instant issuedAt, String protocol) {
        this.serialHex = Objects.requireNonNull(serialHex);
        this.caName = caName;
        this.deviceId = deviceId;
        this.profile = profile;
        this.der = der.clone();
        this.notBefore = notBefore;
        this.notAfter = notAfter;
        this.subject = subject;
        this.proofOfPossession = proofOfPossession;
        this.keyLocation = keyLocation;
        this.issuedBy = issuedBy;
        this.issuedAt = issuedAt;
        this.protocol = protocol;
    }

    public String serialHex() {
        return serialHex;
    }

    public String caName() {
        return caName;
    }

    public String deviceId() {
        return deviceId;
    }

    public String profile() {
        return profile;
    }

    /** The DER encoding (a copy). */
    public byte[] der() {
        return der.clone();
    }

    public X509Certificate certificate() {
        X509Certificate c = certificate;
        if (c == null) {
            try {
                c = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(new ByteArrayInputStream(der));
            } catch (CertificateException e) {
                throw new PkiException(ErrorKind.INTERNAL, "cannot decode certificate " + serialHex, e);
            }
            certificate = c;
        }
        return c;
    }

    public Instant notBefore() {
        return notBefore;
    }

    public Instant notAfter() {
        return notAfter;
    }

    /** The subject in RFC 2253 form. */
    public String subject() {
        return subject;
    }

    public boolean proofOfPossession() {
        return proofOfPossession;
    }

    public String keyLocation() {
        return keyLocation;
    }

    public Actor issuedBy() {
        return issuedBy;
    }

    public Instant issuedAt() {
        return issuedAt;
    }

    public String protocol() {
        return protocol;
    }

    private static byte[] encoded(X509Certificate c) {
        try {
            return c.getEncoded();
        } catch (CertificateEncodingException e) {
            throw new PkiException(ErrorKind.INTERNAL, "cannot encode certificate", e);
        }
    }

    @Override
    public String toString() {
        return "IssuedCertificate[serial=" + serialHex + ", ca=" + caName + ", device=" + deviceId + ", profile=" + profile + ", subject=" + subject
                + ", notAfter=" + notAfter + "]";
    }
}
