package dev.fleetpki.core;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * A device as JSON, the one shape the REST API and {@code fleetpki device list --json} give
 * (docs/rest.md): id, model, tags (in name order), status (active, disabled, revoked),
 * keyLocation, createdAt.
 */
public final class DeviceJson {
    private DeviceJson() {}

    public static Map<String, Object> of(Device d) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", d.id());
        m.put("model", d.model());
        m.put("tags", new TreeMap<>(d.tags()));
        m.put("status", d.status().name().toLowerCase(Locale.ROOT));
        m.put("keyLocation", d.keyLocation());
        m.put("createdAt", d.createdAt().toString());
        return m;
    }

    /**
     * The device with its certificates, newest first (REST {@code GET /api/v1/devices/ID} and
     * {@code fleetpki device show --json}): each with serial, profile, ca, notBefore, notAfter,
     * status, and current (the newest valid certificate of its profile).
     */
    public static Map<String, Object> withCertificates(Device d, java.util.List<StoredCertificate> newestFirst, java.time.Instant now) {
        Map<String, Object> out = of(d);
        java.util.Set<String> current = new java.util.HashSet<>();
        out.put("certificates", newestFirst.stream().map(c -> {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("serial", c.issued().serialHex());
            m.put("profile", c.issued().profile());
            m.put("ca", c.issued().caName());
            m.put("notBefore", c.issued().notBefore().toString());
            m.put("notAfter", c.issued().notAfter().toString());
            m.put("status", c.status(now));
            m.put("current", "valid".equals(c.status(now)) && current.add(c.issued().profile()));
            return m;
        }).toList());
        return out;
    }
}
