package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.core.revocation.RevocationObserver;
import dev.fleetpki.core.revocation.RevocationService;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The server's two listeners share one revocation service: observed twice, its gauge is registered once. */
class RevocationObserverTest {
    @TempDir Path home;

    @Test
    void observingTwiceWithTheSameObserverRegistersItsGaugeOnce() throws Exception {
        TestHome.write(home, "ecdsa-p256", null, null);
        TestHome.init(home);
        AtomicInteger gauges = new AtomicInteger();
        RevocationObserver counting = new RevocationObserver() {
            @Override public void watchPresignQueue(Supplier<Number> queued) {
                gauges.incrementAndGet();
            }
            @Override public void ocspPresigned(String trigger, long answers) { }
            @Override public void crlPublished(String ca, int shard, long entries, long number) { }
            @Override public void ocspAnswered(String status, boolean presigned) { }
        };
        try (Fleet f = Fleet.open(home, java.time.Clock.systemUTC())) {
            RevocationService r = f.revocation();
            r.observe(counting);
            r.observe(counting);
            assertThat(gauges.get()).isEqualTo(1);
        }
    }
}
