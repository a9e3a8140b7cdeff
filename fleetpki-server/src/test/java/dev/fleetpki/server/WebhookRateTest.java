package dev.fleetpki.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The per-endpoint rate of registry notifications, on a clock the test moves. */
class WebhookRateTest {
    @Test
    void aMinutesRateAllowsABurstOfATenthThenOneRequestPerInterval() {
        AtomicLong now = new AtomicLong(1_000_000_000L);
        WebhookDispatcher.PerMinute rate = new WebhookDispatcher.PerMinute(100, now::get);
        for (int i = 0; i < 10; i++) {
            assertThat(rate.nanosToWait()).as("request %d of the burst", i + 1).isZero();
        }
        long wait = rate.nanosToWait();
        assertThat(wait).as("the 11th waits for a token: 0.6 s at 100 a minute").isBetween(590_000_000L, 610_000_000L);
        now.addAndGet(wait);
        assertThat(rate.nanosToWait()).isZero();
        assertThat(rate.nanosToWait()).isPositive();
        // a quiet minute refills the burst, never more
        now.addAndGet(60_000_000_000L);
        int allowed = 0;
        while (rate.nanosToWait() == 0) {
            allowed++;
        }
        assertThat(allowed).isEqualTo(10);
    }

    @Test
    void aSlowEndpointGetsOneRequestAtATime() {
        AtomicLong now = new AtomicLong(0);
        WebhookDispatcher.PerMinute rate = new WebhookDispatcher.PerMinute(6, now::get);
        assertThat(rate.nanosToWait()).isZero();
        assertThat(rate.nanosToWait()).as("6 a minute: one every 10 s").isBetween(9_900_000_000L, 10_000_000_000L);
    }
}
