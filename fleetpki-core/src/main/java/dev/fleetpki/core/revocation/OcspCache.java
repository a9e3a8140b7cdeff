package dev.fleetpki.core.revocation;

import java.util.Arrays;
import java.util.Iterator;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * OCSP answers kept in memory, looked up by the exact bytes of the request, so a repeated request
 * (a relying party asks the same SHA-1, no-nonce question every time) costs a hash lookup: no ASN.1
 * parsing, no store read.
 *
 * <p>Correctness rests on two rules. An entry is served only while {@link #trustedUntil} is in the
 * future, which the owner extends after each successful poll of the store's revocation epoch; a
 * failed or stalled poll makes the cache step aside. {@link #clear()} (a revocation seen) bumps a
 * generation, and {@link #put} drops an answer read before that bump, so a "good" answer read just
 * before a revocation committed is never kept after it.
 */
final class OcspCache {
    record Entry(OcspResponder.OcspAnswer answer, String status, long useUntil) {}

    private record Key(byte[] bytes, int hash) {
        static Key of(byte[] b) {
            return new Key(b, Arrays.hashCode(b));
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Key k && k.hash == hash && Arrays.equals(k.bytes, bytes);
        }

        @Override
        public int hashCode() {
            return hash;
        }
    }

    private final ConcurrentHashMap<Key, Entry> map = new ConcurrentHashMap<>();
    private final AtomicLong generation = new AtomicLong();
    private final int max;
    private volatile long trustedUntil = Long.MIN_VALUE;

    OcspCache(int max) {
        this.max = max;
    }

    /** A usable answer, or null. */
    Entry get(byte[] request, long now) {
        if (max == 0 || now >= trustedUntil) {
            return null;
        }
        Entry e = map.get(Key.of(request));
        return e == null || now >= e.useUntil() ? null : e;
    }

    /** Read before the store is asked: a later {@link #put} is dropped if a revocation was seen in between. */
    long generation() {
        return generation.get();
    }

    void put(byte[] request, Entry e, long generationBefore, long now) {
        if (max == 0 || e.useUntil() <= now || generation.get() != generationBefore) {
            return;
        }
        if (map.size() >= max) {
            evictTenth();
        }
        Key k = Key.of(request.clone());
        map.put(k, e);
        if (generation.get() != generationBefore) { // a clear() ran meanwhile: this answer may predate it
            map.remove(k, e);
        }
    }

    /** Drops every answer (a revocation committed somewhere). */
    void clear() {
        generation.incrementAndGet();
        map.clear();
    }

    /** Entries are served until this time (epoch millis); the epoch poller extends it. */
    void trustUntil(long millis) {
        trustedUntil = millis;
    }

    int size() {
        return map.size();
    }

    /** Full: about a tenth of the entries go, in hash order (which is no particular order). */
    private void evictTenth() {
        int drop = Math.max(1, max / 10);
        Iterator<Key> it = map.keySet().iterator();
        while (drop-- > 0 && it.hasNext()) {
            it.next();
            it.remove();
        }
    }
}
