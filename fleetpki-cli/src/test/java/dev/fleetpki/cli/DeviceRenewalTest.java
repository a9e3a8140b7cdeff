package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.device.DeviceIdentity;
import dev.fleetpki.device.EstClient;
import dev.fleetpki.device.RenewalPolicy;
import dev.fleetpki.device.Renewer;
import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.KeyRef;
import dev.fleetpki.kms.SecretSource;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The renewal scheduler against a real server (a "short" EST label with 5-minute certificates):
 * it waits until two thirds of the lifetime (the device's clock is moved forward rather than the
 * test waiting), renews with a new key, backs off when the server cannot be reached (keeping its
 * certificate), and when the device's certificate has run out enrolls again with the fallback
 * credential.
 */
class DeviceRenewalTest {
    @TempDir Path dir;

    /** The device's clock, moved by the test. */
    static final class DeviceClock extends Clock {
        volatile Duration ahead = Duration.ZERO;

        @Override
        public java.time.ZoneId getZone() {
            return java.time.ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return Instant.now().plus(ahead);
        }
    }

    @Test
    void renewsAtTwoThirdsBacksOffWhenOfflineAndFallsBackAfterExpiry() throws Exception {
        try (TestServer ts = TestServer.start(dir, """
                short:
                  kind: device
                  validity: 5m
                  backdate: 0s
                """)) {
            Cli.Result added = Cli.run(ts.home, "device", "add", "ren-1", "--enrollment-secret");
            assertThat(added.exit()).as(added.all()).isZero();
            String[] lines = added.out().trim().split("\n");
            Path device = Files.createDirectories(dir.resolve("device"));
            Files.writeString(device.resolve("passphrase"), "renewal test passphrase\n");
            X509Certificate anchor = DeviceIdentity.certificate(Files.readAllBytes(ts.home.resolve("ca/root.pem")));
            DeviceIdentity id = DeviceIdentity.create(device, "ren-1", KeyRef.parse("file:device.p8"), KeyAlgorithm.EC_P256,
                    SecretSource.parse("file:passphrase", device), anchor);
            EstClient est = new EstClient(URI.create(ts.base + "/.well-known/est/short"), anchor, Duration.ofSeconds(5));
            DeviceClock clock = new DeviceClock();
            X509Certificate first = id.enroll(est, lines[lines.length - 1].toCharArray(), clock).chain().getFirst();
            long life = Duration.between(first.getNotBefore().toInstant(), first.getNotAfter().toInstant()).toMillis();

            RenewalPolicy policy = new RenewalPolicy(2.0 / 3, 0.1, Duration.ofSeconds(2), Duration.ofSeconds(8), true);
            Renewer.Fallback secret = (d, e, c) -> {
                Cli.Result fresh = Cli.run(ts.home, "device", "secret", "ren-1"); // the operator (or a provisioning service) hands out a new one
                return d.enroll(e, fresh.out().trim().toCharArray(), c);
            };
            Renewer renewer = new Renewer(id, est, policy, clock, secret, new SplittableRandom(3));

            Renewer.Step waiting = renewer.step();
            assertThat(waiting.outcome()).isEqualTo(Renewer.Outcome.WAITING);
            double share = Duration.between(first.getNotBefore().toInstant(), waiting.next()).toMillis() / (double) life;
            assertThat(share).isBetween(2.0 / 3 - 0.05, 2.0 / 3 + 0.05);
            assertThat(renewer.step().outcome()).as("not due yet").isEqualTo(Renewer.Outcome.WAITING);

            clock.ahead = Duration.between(Instant.now(), waiting.next()).plusSeconds(1);
            Renewer.Step renewed = renewer.step();
            assertThat(renewed.outcome()).as(renewed.detail()).isEqualTo(Renewer.Outcome.RENEWED);
            X509Certificate second = id.chain().orElseThrow().getFirst();
            assertThat(second.getSerialNumber()).isNotEqualTo(first.getSerialNumber());
            assertThat(second.getPublicKey()).as("rekeyed").isNotEqualTo(first.getPublicKey());

            // the server unreachable (a port nobody listens on): the attempt fails, the certificate stays, retries back off
            int dead;
            try (var s = new java.net.ServerSocket(0)) {
                dead = s.getLocalPort();
            }
            EstClient offline = new EstClient(URI.create("https://127.0.0.1:" + dead + "/.well-known/est/short"), anchor, Duration.ofSeconds(2));
            Renewer cut = new Renewer(id, offline, policy, clock, null, new SplittableRandom(4));
            clock.ahead = Duration.between(Instant.now(), cut.step().next()).plusSeconds(1);
            Instant before = clock.instant();
            Renewer.Step failed = cut.step();
            assertThat(failed.outcome()).isEqualTo(Renewer.Outcome.FAILED);
            assertThat(failed.detail()).contains("cannot reach");
            assertThat(Duration.between(before, failed.next())).as("first retry: 1-2 s").isBetween(Duration.ofMillis(1000), Duration.ofMillis(3000));
            assertThat(id.chain().orElseThrow().getFirst()).isEqualTo(second);
            assertThat(cut.step().outcome()).as("no new attempt before the backoff ends").isEqualTo(Renewer.Outcome.WAITING);

            // offline past the certificate's end: without a fallback it says so and keeps waiting
            clock.ahead = Duration.between(Instant.now(), second.getNotAfter().toInstant()).plusSeconds(5); // also past the backoff
            Renewer.Step noFallback = cut.step();
            assertThat(noFallback.outcome()).isEqualTo(Renewer.Outcome.EXPIRED_NO_FALLBACK);
            assertThat(noFallback.detail()).contains("no fallback credential");

            // back online with a fallback credential: a device whose certificate really ended enrolls again
            // (what it had: a certificate for its key that ended a moment ago, issued with the server's clock set back)
            Instant caStart = ts.fleet.store().ca("issuing").orElseThrow().certificate().getNotBefore().toInstant();
            Instant then = caStart.plusSeconds(1);
            X509Certificate expired;
            try (Fleet past = Fleet.open(ts.home, Clock.fixed(then, java.time.ZoneOffset.UTC))) {
                var issued = past.pipeline().issue(dev.fleetpki.core.IssuanceRequest.fromCsr(dev.fleetpki.core.UntrustedCsr.parse(id.csr()), "ren-1",
                        "short", "test"), past.authorizer().operator(dev.fleetpki.core.Actor.operator("test"), "ren-1", "short", "test"));
                expired = DeviceIdentity.certificate(issued.der());
            }
            assertThat(expired.getNotAfter().toInstant()).isBefore(Instant.now());
            Files.writeString(device.resolve("chain.pem"), dev.fleetpki.kms.Pem.encode("CERTIFICATE", expired.getEncoded()));
            clock.ahead = Duration.ZERO;
            Renewer.Step back = new Renewer(id, est, policy, clock, secret, new SplittableRandom(5)).step();
            assertThat(back.outcome()).as(back.detail()).isEqualTo(Renewer.Outcome.ENROLLED_BY_FALLBACK);
            X509Certificate third = id.chain().orElseThrow().getFirst();
            assertThat(third.getNotAfter().toInstant()).isAfter(Instant.now());
            assertThat(third.getSerialNumber()).isNotIn(first.getSerialNumber(), second.getSerialNumber(), expired.getSerialNumber());
        }
    }
}
