package dev.fleetpki.core;

import dev.fleetpki.kms.Pem;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A certificate as JSON, the one shape the REST API and {@code fleetpki cert list --json} give
 * (docs/rest.md): serial, device, profile, ca, subject, notBefore, notAfter, status (valid,
 * revoked, expired), revokedAt and revocationReason when revoked, proofOfPossession, issuedBy,
 * issuedAt, protocol, certificatePem.
 */
public final class CertificateJson {
    private CertificateJson() {}

    public static Map<String, Object> of(StoredCertificate stored, Instant now) {
        IssuedCertificate i = stored.issued();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("serial", i.serialHex());
        m.put("device", i.deviceId());
        m.put("profile", i.profile());
        m.put("ca", i.caName());
        m.put("subject", i.subject());
        m.put("notBefore", i.notBefore().toString());
        m.put("notAfter", i.notAfter().toString());
        m.put("status", stored.status(now));
        if (stored.revoked()) {
            m.put("revokedAt", stored.revokedAt().toString());
            m.put("revocationReason", stored.reason().configName());
        }
        m.put("proofOfPossession", i.proofOfPossession());
        m.put("issuedBy", i.issuedBy().toString());
        m.put("issuedAt", i.issuedAt().toString());
        m.put("protocol", i.protocol());
        m.put("certificatePem", Pem.encode("CERTIFICATE", i.der()));
        return m;
    }
}
