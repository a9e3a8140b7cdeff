package dev.fleetpki.device;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Renewal timing: two thirds of the lifetime, spread so a fleet does not renew at once; retries back off. */
class RenewalPolicyTest {
    @Test
    void renewalTimesSpreadAroundTwoThirdsOfTheLifetime() throws Exception {
        var root = java.security.KeyPairGenerator.getInstance("EC");
        root.initialize(256);
        var keys = root.generateKeyPair();
        java.time.Instant nb = java.time.Instant.parse("2026-01-01T00:00:00Z");
        var cert = new org.bouncycastle.cert.jcajce.JcaX509CertificateConverter().getCertificate(
                new org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder(new org.bouncycastle.asn1.x500.X500Name("CN=d"), java.math.BigInteger.ONE,
                        java.util.Date.from(nb), java.util.Date.from(nb.plus(Duration.ofDays(90))), new org.bouncycastle.asn1.x500.X500Name("CN=d"),
                        keys.getPublic()).build(new org.bouncycastle.operator.jcajce.JcaContentSignerBuilder("SHA256withECDSA").build(keys.getPrivate())));
        SplittableRandom rnd = new SplittableRandom(7);
        Set<java.time.Instant> seen = new HashSet<>();
        for (int i = 0; i < 1000; i++) {
            java.time.Instant at = RenewalPolicy.DEFAULT.renewAt(cert, rnd);
            double share = Duration.between(nb, at).toMillis() / (double) Duration.ofDays(90).toMillis();
            assertThat(share).isBetween(2.0 / 3 - 0.05, 2.0 / 3 + 0.05);
            seen.add(at);
        }
        assertThat(seen).as("spread, not one moment for the whole fleet").hasSizeGreaterThan(900);
    }

    @Test
    void retriesBackOffExponentiallyWithJitterUpToTheLongest() {
        RenewalPolicy p = new RenewalPolicy(2.0 / 3, 0.1, Duration.ofSeconds(30), Duration.ofMinutes(8), false);
        SplittableRandom rnd = new SplittableRandom(1);
        assertThat(p.retryDelay(1, rnd)).isBetween(Duration.ofSeconds(15), Duration.ofSeconds(30));
        assertThat(p.retryDelay(2, rnd)).isBetween(Duration.ofSeconds(30), Duration.ofSeconds(60));
        assertThat(p.retryDelay(3, rnd)).isBetween(Duration.ofSeconds(60), Duration.ofSeconds(120));
        assertThat(p.retryDelay(30, rnd)).isBetween(Duration.ofMinutes(4), Duration.ofMinutes(8));
    }

    @Test
    void nonsenseIsRefused() {
        assertThatThrownBy(() -> new RenewalPolicy(1.2, 0.1, Duration.ofSeconds(1), Duration.ofSeconds(2), true)).hasMessageContaining("between 0 and 1");
        assertThatThrownBy(() -> new RenewalPolicy(0.9, 0.4, Duration.ofSeconds(1), Duration.ofSeconds(2), true)).hasMessageContaining("jitter");
        assertThatThrownBy(() -> new RenewalPolicy(0.5, 0.1, Duration.ZERO, Duration.ofSeconds(2), true)).hasMessageContaining("positive");
    }
}
