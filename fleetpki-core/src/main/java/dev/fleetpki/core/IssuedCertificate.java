package dev.fleetpki.core;

import java.security.cert.X509Certificate;
import java.time.Instant;

/**
 * A certificate fleetpki signed, as stored.
 *
 * @param serialHex lowercase hex serial number (the store's unique key)
 * @param proofOfPossession false only for certificates issued from a bare public key by a factory station
 */
public record IssuedCertificate(String serialHex, String caName, String deviceId, String profile, X509Certificate certificate,
                                boolean proofOfPossession, String keyLocation, Actor issuedBy, Instant issuedAt, String protocol) {
    public Instant notBefore() {
        return certificate.getNotBefore().toInstant();
    }

    public Instant notAfter() {
        return certificate.getNotAfter().toInstant();
    }

    public String subject() {
        return certificate.getSubjectX500Principal().getName();
    }
}
