package dev.fleetpki.store;

import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * A short-lived cache of rows that every enrollment reads (devices for the pipeline's early
 * check, factory stations by certificate). Only found rows are cached, so a new registration is
 * visible at once; local changes invalidate their entry; changes made on another node are seen
 * within the time to live. Whatever must hold at issuance is checked again in the commit
 * transaction (the device's status), so the cache only saves reads.
 */
final class TtlCache<V> {
    static final int MAX_ENTRIES = 100_000;

    private record Entry<V>(V value, long loadedAt) {}

    private final long ttlMillis;
    private final ConcurrentHashMap<String, Entry<V>> entries = new ConcurrentHashMap<>();

    TtlCache(long ttlMillis) {
        this.ttlMillis = ttlMillis;
    }

    Optional<V> get(String key, Function<String, Optional<V>> load) {
        long now = now();
        Entry<V> e = entries.get(key);
        if (e != null && now - e.loadedAt() < ttlMillis) {
            return Optional.of(e.value());
        }
        Optional<V> v = load.apply(key);
        if (v.isPresent()) {
            put(key, v.get(), now);
        } else {
            entries.remove(key);
        }
        return v;
    }

    /** Keeps a row read along with another (a device with its enrollment secret). */
    void put(String key, V value) {
        put(key, value, now());
    }

    private void put(String key, V value, long loadedAt) {
        if (entries.size() >= MAX_ENTRIES) {
            entries.clear();
        }
        entries.put(key, new Entry<>(value, loadedAt));
    }

    /** Milliseconds on the monotonic clock: a wall-clock step (NTP, an operator) neither keeps an entry alive nor drops it early. */
    private static long now() {
        return System.nanoTime() / 1_000_000;
    }

    void invalidate(String key) {
        entries.remove(key);
    }
}
