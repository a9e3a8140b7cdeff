package dev.fleetpki.store;

import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.Properties;

/**
 * What a restored SQLite store must not do again, set before anything opens it (docs/backup.md):
 * the state after the backup is lost, yet the world saw it. So every CA's next CRL number jumps past
 * the numbers the lost state may have used (a floor of the stored number plus {@link #margin}), and
 * every one-time enrollment secret still unused in the backup ends now: it may have bought a
 * certificate after the backup, which the restored store would not know. Serials need nothing:
 * they are random (128 bits from a CSPRNG), so a restored store does not draw them again.
 */
public final class RestoreGuard {
    private RestoreGuard() {}

    /** What a restore changed. */
    public record Result(int crlFloors, long lowestFloor, int secretsEnded) {}

    /**
     * CRL numbers skipped after a restore: 1,000 plus 6,000 for every minute (begun) since the
     * backup, that is 100 a second, more than the lost state can have used (a node makes at most one
     * run per CA every 200 ms). Whole minutes, so the jump does not depend on the second a restore ran.
     */
    public static long margin(Duration sinceBackup) {
        long minutes = Math.max(0, (sinceBackup.toMillis() + 59_999) / 60_000);
        return 1_000 + minutes * 6_000;
    }

    /** Applies both guards to the SQLite file in one transaction. */
    public static Result apply(Path sqliteFile, Duration sinceBackup, Instant now) {
        long margin = margin(sinceBackup);
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + sqliteFile.toAbsolutePath(), new Properties())) {
            c.setAutoCommit(false);
            int floors = 0;
            long lowest = Long.MAX_VALUE;
            try (Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("SELECT ca.name, (SELECT MAX(number) FROM crl WHERE crl.ca = ca.name), "
                         + "(SELECT floor FROM crl_number_floor f WHERE f.ca = ca.name) FROM ca");
                 PreparedStatement del = c.prepareStatement("DELETE FROM crl_number_floor WHERE ca = ?");
                 PreparedStatement ins = c.prepareStatement("INSERT INTO crl_number_floor (ca, floor) VALUES (?, ?)")) {
                while (rs.next()) {
                    long floor = Math.max(rs.getLong(2), rs.getLong(3)) + margin;
                    del.setString(1, rs.getString(1));
                    del.executeUpdate();
                    ins.setString(1, rs.getString(1));
                    ins.setLong(2, floor);
                    ins.executeUpdate();
                    floors++;
                    lowest = Math.min(lowest, floor);
                }
            }
            int ended;
            try (PreparedStatement ps = c.prepareStatement("UPDATE enrollment_secret SET expires_at = ? WHERE used_at IS NULL AND expires_at > ?")) {
                ps.setLong(1, now.toEpochMilli());
                ps.setLong(2, now.toEpochMilli());
                ended = ps.executeUpdate();
            }
            c.commit();
            return new Result(floors, floors == 0 ? 0 : lowest, ended);
        } catch (SQLException e) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the backup's store cannot be prepared for use (" + e.getMessage()
                    + "); is it a fleetpki backup of this version or an older one?");
        }
    }
}
