package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The attack the hash chain alone cannot show: someone who can write the database edits an event
 * and recomputes every hash after it (the chain then verifies). The signed checkpoints in the CA
 * home, and a head recorded elsewhere, catch it; a forged checkpoint does not verify.
 */
class AuditAnchorTest {
    @TempDir Path dir;

    /** The attacker's rewrite: event {@code seq} gets a new detail, and every hash from it on is recomputed, head included. */
    private static void rewrite(Path db, long seq, String detail) throws Exception {
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db)) {
            c.setAutoCommit(false);
            try (PreparedStatement u = c.prepareStatement("UPDATE audit_event SET detail = ? WHERE seq = ?")) {
                u.setString(1, detail);
                u.setLong(2, seq);
                assertThat(u.executeUpdate()).isEqualTo(1);
            }
            String prev;
            try (PreparedStatement q = c.prepareStatement("SELECT hash FROM audit_event WHERE seq = ?")) {
                q.setLong(1, seq - 1);
                try (ResultSet rs = q.executeQuery()) {
                    assertThat(rs.next()).isTrue();
                    prev = rs.getString(1);
                }
            }
            List<Object[]> rows = new ArrayList<>();
            try (PreparedStatement q = c.prepareStatement("SELECT seq, at, actor, action, target, detail FROM audit_event WHERE seq >= ? ORDER BY seq")) {
                q.setLong(1, seq);
                try (ResultSet rs = q.executeQuery()) {
                    while (rs.next()) {
                        rows.add(new Object[] {rs.getLong(1), rs.getLong(2), rs.getString(3), rs.getString(4), rs.getString(5), rs.getString(6)});
                    }
                }
            }
            long last = seq;
            for (Object[] r : rows) {
                String h = hash(prev, (long) r[0], (long) r[1], (String) r[2], (String) r[3], (String) r[4], (String) r[5]);
                try (PreparedStatement u = c.prepareStatement("UPDATE audit_event SET prev_hash = ?, hash = ? WHERE seq = ?")) {
                    u.setString(1, prev);
                    u.setString(2, h);
                    u.setLong(3, (long) r[0]);
                    u.executeUpdate();
                }
                prev = h;
                last = (long) r[0];
            }
            try (PreparedStatement u = c.prepareStatement("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1")) {
                u.setLong(1, last);
                u.setString(2, prev);
                u.executeUpdate();
            }
            c.commit();
        }
    }

    /** The chain's hash as anyone can read it from the schema: length-prefixed parts under SHA-256. */
    private static String hash(String prev, long seq, long at, String actor, String action, String target, String detail) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        for (String part : new String[] {prev, Long.toString(seq), Long.toString(at), actor, action, target, detail}) {
            byte[] b = part.getBytes(StandardCharsets.UTF_8);
            md.update(Integer.toString(b.length).getBytes(StandardCharsets.US_ASCII));
            md.update((byte) ':');
            md.update(b);
        }
        return HexFormat.of().formatHex(md.digest());
    }

    @Test
    void aRewrittenChainIsCaughtByTheSignedCheckpointsAndByARecordedHead() throws Exception {
        Path home = TestHome.write(dir.resolve("home"), "ecdsa-p256", null, null);
        TestHome.init(home);
        for (String d : new String[] {"d-1", "d-2", "d-3"}) {
            assertThat(Cli.run(home, "device", "add", d, "--model", "sensor").exit()).isZero();
        }
        Cli.Result head = Cli.run(home, "audit", "head");
        assertThat(head.exit()).isZero();
        Path recorded = dir.resolve("head.txt");
        Files.writeString(recorded, head.out());
        Cli.Result cp = Cli.run(home, "audit", "checkpoint");
        assertThat(cp.exit()).as(cp.all()).isZero();
        assertThat(Files.exists(home.resolve("keys/audit.p8"))).isTrue();
        assertThat(Files.readString(home.resolve("ca/audit-key.pem"))).contains("BEGIN PUBLIC KEY");
        assertThat(Cli.run(home, "device", "add", "d-4").exit()).isZero(); // after the checkpoint
        Cli.Result ok = Cli.run(home, "audit", "verify", "--expect-head", recorded.toString());
        assertThat(ok.exit()).as(ok.all()).isZero();
        assertThat(ok.out()).contains("1 signed checkpoint match");

        // the attack: an event before the checkpoint rewritten, every later hash recomputed
        long seq = Long.parseLong(head.out().trim().split(" ")[0]) - 1;
        rewrite(home.resolve("fleetpki.db"), seq, "{\"model\":\"nothing-to-see\"}");
        Cli.Result caught = Cli.run(home, "audit", "verify");
        assertThat(caught.exit()).as(caught.all()).isEqualTo(65);
        assertThat(caught.err()).contains("event " + (seq + 1) + " no longer has the hash signed at").contains("rewritten");

        // without the checkpoints file, the recorded head still catches it ...
        Path saved = dir.resolve("checkpoints");
        Files.move(home.resolve("audit/checkpoints"), saved);
        Cli.Result byHead = Cli.run(home, "audit", "verify", "--expect-head", recorded.toString());
        assertThat(byHead.exit()).isEqualTo(65);
        assertThat(byHead.err()).contains("no longer has the hash recorded in");
        // ... and with neither, the rewritten chain verifies: what the docs say an attacker can do without an anchor
        Cli.Result blind = Cli.run(home, "audit", "verify");
        assertThat(blind.exit()).isZero();
        assertThat(blind.out()).contains("no checkpoints yet");

        // a checkpoint forged to the rewritten chain does not verify: its signature is over the old hash
        String line = Files.readString(saved).trim();
        String[] p = line.split(" ");
        String newHash = Cli.run(home, "audit", "head").out().trim().split(" ")[1];
        Files.createDirectories(home.resolve("audit"));
        Files.writeString(home.resolve("audit/checkpoints"), p[0] + " " + hashAt(home, Long.parseLong(p[0])) + " " + p[2] + " " + p[3] + "\n");
        Cli.Result forged = Cli.run(home, "audit", "verify");
        assertThat(forged.exit()).isEqualTo(65);
        assertThat(forged.err()).contains("is not signed by the audit key");
        assertThat(newHash).isNotBlank();
    }

    private static String hashAt(Path home, long seq) throws Exception {
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + home.resolve("fleetpki.db"));
             PreparedStatement q = c.prepareStatement("SELECT hash FROM audit_event WHERE seq = ?")) {
            q.setLong(1, seq);
            try (ResultSet rs = q.executeQuery()) {
                assertThat(rs.next()).isTrue();
                return rs.getString(1);
            }
        }
    }
}
