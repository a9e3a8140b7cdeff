package dev.fleetpki.store;

import dev.fleetpki.core.Actor;
import dev.fleetpki.core.AuditAction;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.Device;
import dev.fleetpki.core.EnrollmentRequest;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import static org.assertj.core.api.Assertions.assertThat;

/** SQLite reads reuse their prepared statements without ever reading an old snapshot. */
class StatementCacheTest {
    static final Actor OP = Actor.operator("test");

    @TempDir Path dir;

    @Test
    void readsThroughKeptStatementsSeeEveryCommitAndHoldNoSnapshot() throws Exception {
        String url = "jdbc:sqlite:" + dir.resolve("store.db");
        ExecutorService readers = Executors.newFixedThreadPool(8);
        try (JdbcStore here = new JdbcStore(Database.open(url, null, null, dir));
             JdbcStore otherNode = new JdbcStore(Database.open(url, null, null, dir))) {
            Instant now = Instant.now();
            otherNode.devices().addDevice(new Device("d1", null, Map.of(), Device.Status.ACTIVE, null, now),
                    new AuditEvent(now, OP, AuditAction.DEVICE_ADD, "device:d1", Map.of()));
            for (int i = 0; i < 12; i++) {
                // the request written last is the one pending: earlier ones are settled through the store's own path
                String hash = "%064x".formatted(i);
                otherNode.requests().addRequest(new EnrollmentRequest("r" + i, "d1", "p" + i, new byte[] {1}, hash, EnrollmentRequest.Status.PENDING,
                        "secret", OP, "est", now, null, null, null, null), new AuditEvent(now, OP, AuditAction.REQUEST_ADD, "request:r" + i, Map.of()));
                int profile = i;
                List<Future<Integer>> seen = new ArrayList<>();
                for (int t = 0; t < 16; t++) { // more readers than pooled connections: every kept statement is used
                    seen.add(readers.submit(() -> here.requests().requestsFor("d1", "p" + profile, hash).size()));
                }
                for (Future<Integer> f : seen) {
                    assertThat(f.get()).as("a read after commit %d sees it", i).isEqualTo(1);
                }
                assertThat(here.requests().pendingCount()).isEqualTo(i + 1);
                assertThat(wholeLogCheckpoints(url)).as("no reader holds an old snapshot, so the whole log can be checkpointed").isTrue();
            }
        } finally {
            readers.shutdownNow();
        }
    }

    /**
     * Whether a PASSIVE checkpoint copies the whole log back. The store's own background
     * checkpointer may be in a checkpoint (or its read) at the same moment, which leaves part of the
     * log for this one to copy: that passes within a few tries. A reader holding an old snapshot
     * (what this guards against) holds it on every try, so the answer stays false.
     */
    private static boolean wholeLogCheckpoints(String url) throws Exception {
        for (int attempt = 0; attempt < 100; attempt++) {
            try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("PRAGMA wal_checkpoint(PASSIVE)")) {
                rs.next();
                if (rs.getInt(1) == 0 && rs.getInt(3) == rs.getInt(2)) {
                    return true;
                }
            }
            Thread.sleep(20);
        }
        return false;
    }

    @Test
    void keepsAtMostItsLimitPerConnectionAndForgetsClosedConnections() throws Exception {
        String url = "jdbc:sqlite:" + dir.resolve("plain.db");
        StatementCache cache = new StatementCache();
        try (Connection b = DriverManager.getConnection(url)) {
            Connection a = DriverManager.getConnection(url);
            PreparedStatement first = cache.prepare(a, "SELECT 0");
            assertThat(cache.prepare(a, "SELECT 0")).as("kept").isSameAs(first);
            for (int i = 1; i <= StatementCache.PER_CONNECTION; i++) {
                cache.prepare(a, "SELECT " + i);
            }
            assertThat(first.isClosed()).as("the least recently used is closed beyond the limit").isTrue();
            PreparedStatement again = cache.prepare(a, "SELECT 0");
            assertThat(again).isNotSameAs(first);
            try (ResultSet rs = again.executeQuery()) {
                assertThat(rs.next()).isTrue();
            }
            cache.forget(a, "SELECT 0");
            assertThat(again.isClosed()).as("a statement whose use failed is closed and dropped").isTrue();
            a.close(); // as the pool retires a connection
            assertThat(cache.connections()).isEqualTo(1);
            cache.prepare(b, "SELECT 1");
            assertThat(cache.connections()).as("the retired connection is forgotten").isEqualTo(1);
        }
    }
}
