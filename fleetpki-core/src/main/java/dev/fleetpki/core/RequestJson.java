package dev.fleetpki.core;

import dev.fleetpki.kms.Pem;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A request kept for an operator as JSON: the fields {@code GET /api/v1/certificate-requests[/{id}]}
 * and {@code fleetpki request list|show --json} share (the API adds its links and, once issued,
 * the certificate and chain).
 */
public final class RequestJson {
    private RequestJson() {}

    public static Map<String, Object> of(EnrollmentRequest r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", r.id());
        m.put("device", r.deviceId());
        m.put("profile", r.profile());
        m.put("status", r.status().configName());
        m.put("credential", r.credential());
        m.put("requestedBy", r.requestedBy().toString());
        m.put("protocol", r.protocol());
        m.put("createdAt", r.createdAt().toString());
        m.put("decidedAt", r.decidedAt() == null ? null : r.decidedAt().toString());
        m.put("decidedBy", r.decidedBy() == null ? null : r.decidedBy().toString());
        m.put("reason", r.reason());
        m.put("csrPem", Pem.encode("CERTIFICATE REQUEST", r.csrDer()));
        if (r.serial() != null) {
            m.put("serial", r.serial());
        }
        return m;
    }
}
