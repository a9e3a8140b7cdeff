package dev.fleetpki.store;

import dev.fleetpki.core.Actor;
import dev.fleetpki.core.AuditAction;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.Device;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * SQLite's background checkpoint syncs the database file itself after copying pages into it, so
 * that the writer's backstop checkpoint (which SQLite makes sync the file while every caller
 * waits) finds little left to flush; and what was committed is all there after reopening.
 */
class CheckpointerTest {
    @TempDir Path dir;

    @Test
    void theBackgroundCheckpointSyncsTheDatabaseFile() throws Exception {
        String url = "jdbc:sqlite:" + dir.resolve("store.db");
        Database db = Database.open(url, null, null, dir);
        try (JdbcStore s = new JdbcStore(db)) {
            long before = db.checkpointSyncs();
            Instant now = Instant.now();
            for (int i = 0; i < 200; i++) {
                s.devices().addDevice(new Device("d" + i, null, Map.of(), Device.Status.ACTIVE, null, now),
                        new AuditEvent(now, Actor.operator("test"), AuditAction.DEVICE_ADD, "device:d" + i, Map.of()));
            }
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (db.checkpointSyncs() == before && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertThat(db.checkpointSyncs()).as("syncs of the database file after the checkpoint copied the commits").isGreaterThan(before);
        }
        try (JdbcStore again = new JdbcStore(Database.open(url, null, null, dir))) {
            assertThat(again.devices().devices(500)).hasSize(200);
            assertThat(again.auditLog().verifyAudit().intact()).isTrue();
        }
    }
}
