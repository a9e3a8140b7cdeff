package dev.fleetpki.core.enrollment;

import java.util.concurrent.ConcurrentHashMap;

/** Fixed-window counters per key; windows older than one period are dropped as the map grows. */
final class RateLimiter {
    private final long periodMillis;
    private final ConcurrentHashMap<String, long[]> windows = new ConcurrentHashMap<>();

    RateLimiter(long periodMillis) {
        this.periodMillis = periodMillis;
    }

    /** Like {@link #acquire} without counting: 0 while the key's window holds at most {@code limit}. */
    long peek(String key, int limit, long now) {
        long[] w = windows.get(key);
        if (w == null) {
            return 0;
        }
        synchronized (w) {
            return now - w[0] >= periodMillis || w[1] < limit ? 0 : w[0] + periodMillis - now;
        }
    }

    /** 0 when allowed, else milliseconds until the window ends. */
    long acquire(String key, int limit, long now) {
        if (limit <= 0) {
            return 0;
        }
        if (windows.size() > 100_000) {
            windows.values().removeIf(w -> now - w[0] >= periodMillis);
        }
        long[] w = windows.compute(key, (k, old) -> {
            if (old == null || now - old[0] >= periodMillis) {
                return new long[] {now, 1};
            }
            old[1]++;
            return old;
        });
        synchronized (w) {
            return w[1] <= limit ? 0 : w[0] + periodMillis - now;
        }
    }
}
