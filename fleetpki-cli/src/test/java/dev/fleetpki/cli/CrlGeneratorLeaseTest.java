package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.core.revocation.CrlPublisher;
import dev.fleetpki.core.revocation.RevocationService;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One CRL generator at a time across nodes sharing a PostgreSQL store: a PostgreSQL advisory lock
 * (held by a session, so a node that dies releases it with its connection) guards each CA's
 * generation. Two nodes that find the same CRLs due at the same moment make one generation of
 * each, with CRL numbers 1, 2, 3 ... and none skipped or reused.
 */
class CrlGeneratorLeaseTest {
    static final String PG = "jdbc:postgresql://127.0.0.1:5432/";

    @TempDir Path dir;
    String db;

    @BeforeEach
    void database() throws Exception {
        db = "fleetpki_lease_" + Long.toHexString(System.nanoTime());
        try (Connection c = DriverManager.getConnection(PG + "postgres?user=postgres"); Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE " + db);
        }
    }

    @AfterEach
    void drop() throws Exception {
        try (Connection c = DriverManager.getConnection(PG + "postgres?user=postgres"); Statement s = c.createStatement()) {
            s.execute("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
        }
    }

    /** A clock the test moves forward, shared by both nodes. */
    static final class MovingClock extends Clock {
        volatile Instant now = Instant.now();

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }

    @Test
    void twoNodesFindingTheSameCrlsDueMakeOneGenerationEachWithConsecutiveNumbers() throws Exception {
        Path home = TestHome.write(dir.resolve("home"), "ecdsa-p256", PG + db + "?user=postgres", null, null);
        TestHome.init(home);
        MovingClock clock = new MovingClock();
        int rounds = 6;
        try (Fleet a = Fleet.open(home, clock); Fleet b = Fleet.open(home, clock)) {
            CrlPublisher pa = a.revocation().crls();
            CrlPublisher pb = b.revocation().crls();
            int issuers = pa.crlIssuers().size();
            Duration refresh = a.config().revocation().crlRefresh();
            for (int round = 0; round < rounds; round++) {
                CyclicBarrier start = new CyclicBarrier(2);
                List<Thread> nodes = new ArrayList<>();
                for (CrlPublisher p : List.of(pa, pb)) {
                    nodes.add(Thread.ofPlatform().start(() -> {
                        try {
                            start.await(10, TimeUnit.SECONDS);
                            p.refreshCrlsIfDue();
                        } catch (Exception e) {
                            throw new IllegalStateException(e);
                        }
                    }));
                }
                for (Thread t : nodes) {
                    t.join(60_000);
                }
                clock.now = clock.now.plus(refresh).plusSeconds(60); // every CRL is due again
            }
            try (Connection c = DriverManager.getConnection(PG + db + "?user=postgres");
                 PreparedStatement ps = c.prepareStatement("SELECT target, detail FROM audit_event WHERE action = 'crl.generate' ORDER BY seq");
                 ResultSet rs = ps.executeQuery()) {
                java.util.Map<String, List<Long>> numbers = new java.util.TreeMap<>();
                while (rs.next()) {
                    java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"number\"\\s*:\\s*\"?(\\d+)").matcher(rs.getString(2));
                    assertThat(m.find()).as(rs.getString(2)).isTrue();
                    numbers.computeIfAbsent(rs.getString(1), k -> new ArrayList<>()).add(Long.parseLong(m.group(1)));
                }
                assertThat(numbers).hasSize(issuers);
                List<Long> expected = java.util.stream.LongStream.rangeClosed(1, rounds).boxed().toList();
                numbers.forEach((ca, n) -> assertThat(n).as("CRL numbers of " + ca + ": one generation per round, none skipped or reused")
                        .isEqualTo(expected));
            }
        }
    }

    @Test
    void theLeaseIsHeldByOneNodeAndEndsWithItsConnection() throws Exception {
        Path home = TestHome.write(dir.resolve("home"), "ecdsa-p256", PG + db + "?user=postgres", null, null);
        TestHome.init(home);
        try (Fleet a = Fleet.open(home, Clock.systemUTC()); Fleet b = Fleet.open(home, Clock.systemUTC())) {
            CountDownLatch held = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            Thread holder = Thread.ofPlatform().start(() -> a.store().revocation().exclusively("crl:issuing", Duration.ZERO, () -> {
                held.countDown();
                try {
                    release.await(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return true;
            }));
            assertThat(held.await(10, TimeUnit.SECONDS)).isTrue();
            assertThat(b.store().revocation().exclusively("crl:issuing", Duration.ZERO, () -> true)).as("held by the other node").isEmpty();
            assertThat(b.store().revocation().exclusively("crl:root", Duration.ZERO, () -> true)).as("another CA's lease is free").contains(true);
            // the holding node's session ends (a node killed, a connection cut): PostgreSQL releases its lock
            try (Connection c = DriverManager.getConnection(PG + "postgres?user=postgres");
                 PreparedStatement ps = c.prepareStatement("SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                         + "WHERE l.locktype = 'advisory' AND d.datname = ?")) {
                ps.setString(1, db);
                try (ResultSet rs = ps.executeQuery()) {
                    assertThat(rs.next()).as("an advisory lock is held in the database").isTrue();
                }
            }
            Optional<Boolean> after = Optional.empty();
            for (int i = 0; i < 50 && after.isEmpty(); i++) {
                after = b.store().revocation().exclusively("crl:issuing", Duration.ZERO, () -> true);
                Thread.sleep(100);
            }
            assertThat(after).as("the lease ended with the holder's connection").contains(true);
            release.countDown();
            holder.join(10_000);
        }
    }
}
