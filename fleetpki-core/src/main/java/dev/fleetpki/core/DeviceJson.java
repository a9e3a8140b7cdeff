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
}
