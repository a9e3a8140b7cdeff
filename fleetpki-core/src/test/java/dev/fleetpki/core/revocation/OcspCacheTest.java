package dev.fleetpki.core.revocation;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import org.junit.jupiter.api.Test;

/** The rules that keep an in-memory OCSP answer from outliving a revocation (the end-to-end case is in RevocationTest). */
class OcspCacheTest {
    private static final long NOW = 1_800_000_000_000L;

    private static OcspCache.Entry entry(String status, long useUntil) {
        return new OcspCache.Entry(new OcspResponder.OcspAnswer(status.getBytes(), true, Instant.ofEpochMilli(NOW), Instant.ofEpochMilli(useUntil)),
                status, useUntil);
    }

    private static OcspCache trusted(int max) {
        OcspCache c = new OcspCache(max);
        c.trustUntil(NOW + 500);
        return c;
    }

    @Test
    void servesByTheExactRequestBytesUntilTheEntryAges() {
        OcspCache c = trusted(10);
        byte[] req = {0x30, 0x03, 0x02, 0x01, 0x07};
        c.put(req, entry("good", NOW + 1000), c.generation(), NOW);
        assertThat(c.get(req.clone(), NOW).status()).isEqualTo("good"); // equal bytes, another array
        assertThat(c.get(new byte[] {0x30, 0x03, 0x02, 0x01, 0x08}, NOW)).isNull();
        assertThat(c.get(req, NOW + 1000)).as("past useUntil").isNull();
        req[4] = 0x09; // the caller's array changing later does not change what is kept
        assertThat(c.get(new byte[] {0x30, 0x03, 0x02, 0x01, 0x07}, NOW)).isNotNull();
    }

    @Test
    void anAnswerReadBeforeARevocationIsNotKeptAfterIt() {
        OcspCache c = trusted(10);
        byte[] req = {1, 2, 3};
        long before = c.generation(); // a request thread reads the store ("good")...
        c.clear(); // ...a revocation is seen meanwhile...
        c.put(req, entry("good", NOW + 1000), before, NOW); // ...and its answer comes back too late
        assertThat(c.get(req, NOW)).isNull();
        assertThat(c.size()).isZero();
        c.put(req, entry("revoked", NOW + 1000), c.generation(), NOW);
        assertThat(c.get(req, NOW).status()).isEqualTo("revoked");
    }

    @Test
    void nothingIsServedUnlessTheEpochWasReadRecently() {
        OcspCache c = new OcspCache(10);
        byte[] req = {1};
        c.trustUntil(NOW + 500);
        c.put(req, entry("good", NOW + 10_000), c.generation(), NOW);
        assertThat(c.get(req, NOW + 499)).isNotNull();
        assertThat(c.get(req, NOW + 500)).as("the poller has not confirmed the epoch since").isNull();
        c.trustUntil(Long.MIN_VALUE); // a failed poll
        assertThat(c.get(req, NOW)).isNull();
    }

    @Test
    void staysWithinItsSizeAndZeroMeansOff() {
        OcspCache c = trusted(100);
        for (int i = 0; i < 1000; i++) {
            c.put(new byte[] {(byte) (i >> 8), (byte) i}, entry("good", NOW + 1000), c.generation(), NOW);
        }
        assertThat(c.size()).isBetween(1, 100);
        OcspCache off = trusted(0);
        off.put(new byte[] {1}, entry("good", NOW + 1000), off.generation(), NOW);
        assertThat(off.get(new byte[] {1}, NOW)).isNull();
        assertThat(off.size()).isZero();
    }
}
