package dev.fleetpki.store;

import dev.fleetpki.core.Device;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * A short-lived cache of device rows for the issuance pipeline's early check (registered, active,
 * names). Only an optimisation: the commit checks the device again in its own transaction.
 * Local status changes invalidate their entry at once; changes on other nodes are seen within
 * {@link #TTL_MILLIS}.
 */
final class DeviceCache {
    static final long TTL_MILLIS = 10_000;
    static final int MAX_ENTRIES = 100_000;

    private record Entry(Optional<Device> device, long loadedAt) {}

    private final ConcurrentHashMap<String, Entry> entries = new ConcurrentHashMap<>();

    Optional<Device> get(String id, Function<String, Optional<Device>> load) {
        long now = System.currentTimeMillis();
        Entry e = entries.get(id);
        if (e != null && now - e.loadedAt() < TTL_MILLIS) {
            return e.device();
        }
        Optional<Device> d = load.apply(id);
        if (d.isPresent()) { // unknown ids are not cached: a registration must be visible at once
            if (entries.size() >= MAX_ENTRIES) {
                entries.clear();
            }
            entries.put(id, new Entry(d, now));
        }
        return d;
    }

    void invalidate(String id) {
        entries.remove(id);
    }
}
