package dev.fleetpki.store;

import java.sql.SQLException;
import java.sql.SQLNonTransientConnectionException;
import java.sql.SQLRecoverableException;
import java.sql.SQLTransientConnectionException;
import org.sqlite.SQLiteException;

/**
 * Tells a store that does not answer now from a request the store refuses. Unavailable: no
 * connection (PostgreSQL SQLSTATE class 08, a pool that found none in time), the server shutting
 * down or not accepting connections yet (57P01-57P03), out of resources (class 53: disk full, too
 * many connections), a session that became read-only (25006: a standby where the primary was),
 * an I/O error (58030); SQLite busy or locked past its timeout, an I/O error, a full disk, a file it
 * cannot open. These become {@link dev.fleetpki.core.ErrorKind#UNAVAILABLE}: a 503 with
 * Retry-After for a client, nothing written.
 */
final class StoreFaults {
    private StoreFaults() {}

    /** The connection itself broke (PostgreSQL: SQLSTATE class 08, or the server ended the session). */
    static boolean connectionLost(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLException s && s.getSQLState() != null && (s.getSQLState().startsWith("08") || s.getSQLState().startsWith("57P"))) {
                return true;
            }
        }
        return false;
    }

    static boolean unavailable(SQLException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLTransientConnectionException || t instanceof SQLNonTransientConnectionException || t instanceof SQLRecoverableException) {
                return true;
            }
            if (t instanceof SQLiteException x) {
                int primary = x.getResultCode().code & 0xff;
                if (primary == 5 || primary == 6 || primary == 10 || primary == 13 || primary == 14) { // BUSY, LOCKED, IOERR, FULL, CANTOPEN
                    return true;
                }
            }
            if (t instanceof SQLException s && s.getSQLState() != null) {
                String state = s.getSQLState();
                if (state.startsWith("08") || state.startsWith("53") || state.startsWith("57P") || state.equals("25006") || state.equals("58030")) {
                    return true;
                }
            }
        }
        return false;
    }
}
