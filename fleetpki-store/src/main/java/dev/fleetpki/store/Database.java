package dev.fleetpki.store;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.FlywayException;
import org.slf4j.LoggerFactory;

/**
 * The JDBC database: an SQLite file by default, PostgreSQL by URL; migrated by Flyway on open.
 * Reads go through a small HikariCP pool; all writes go through one {@link GroupCommitter}.
 */
public final class Database implements AutoCloseable {
    public enum Dialect { SQLITE, POSTGRESQL }

    private final String url;
    private final Dialect dialect;
    private final HikariDataSource readers;
    private final Properties props;
    private final Checkpointer checkpointer;

    private final boolean readOnly;

    /** @param sqliteFile the SQLite database file, resolved by {@link #open}; null for PostgreSQL */
    private Database(String url, Path sqliteFile, Dialect dialect, HikariDataSource readers, Properties props, boolean readOnly) {
        this.url = url;
        this.dialect = dialect;
        this.readers = readers;
        this.props = props;
        this.readOnly = readOnly;
        this.checkpointer = dialect == Dialect.SQLITE && !readOnly ? new Checkpointer(sqliteFile) : null;
    }

    /**
     * SQLite: copies the write-ahead log into the database file from a thread of its own, every
     * {@code INTERVAL_MILLIS} ({@code -Dfleetpki.checkpointMillis}), so that a commit (and the
     * callers waiting on it) does not also pay for a checkpoint. PASSIVE: it never blocks the
     * writer or readers. The writer's own automatic checkpoint stays as a backstop at a larger
     * log size. After a checkpoint that copied pages, this thread also syncs the database file:
     * SQLite syncs it only when a checkpoint reaches the end of the log, which under steady
     * commits is rarely this thread's and then the writer's backstop, flushing a second's worth of
     * pages while every caller waits (docs/store.md).
     */
    private final class Checkpointer implements Runnable {
        static final long INTERVAL_MILLIS = Long.getLong("fleetpki.checkpointMillis", 50);
        private final Thread thread = Thread.ofPlatform().name("fleetpki-checkpoint").daemon(true).unstarted(this);
        private volatile boolean stopped;
        /** Times this thread synced the database file after copying pages into it (for tests). */
        private volatile long syncs;
        private final Path file;

        Checkpointer(Path file) {
            this.file = file;
            thread.start();
        }

        @Override
        public void run() {
            Connection c = null;
            FileChannel channel = null;
            long backfilled = -1;
            while (!stopped) {
                try {
                    Thread.sleep(INTERVAL_MILLIS);
                    if (c == null) {
                        c = DriverManager.getConnection(url, props);
                    }
                    long copied;
                    try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("PRAGMA wal_checkpoint(PASSIVE)")) {
                        copied = rs.next() ? rs.getLong(3) : -1; // frames of the log copied into the database file so far
                    }
                    if (copied > 0 && copied != backfilled) {
                        // SQLite syncs the database file only when a checkpoint reaches the end of the log, which under
                        // steady commits is the writer's own backstop checkpoint: it then flushed a second's worth of
                        // pages while every caller waited (40-77 ms). Syncing here as pages arrive leaves it little to do.
                        if (channel == null) {
                            channel = FileChannel.open(file, StandardOpenOption.READ);
                        }
                        channel.force(false);
                        syncs++;
                    }
                    backfilled = copied;
                } catch (InterruptedException e) {
                    break;
                } catch (SQLException | IOException e) {
                    if (stopped) {
                        break; // stop() interrupted a sync, which closes the channel: not a failure
                    }
                    LoggerFactory.getLogger(Database.class).warn("background checkpoint failed (the writer checkpoints instead): {}", e.getMessage());
                    closeQuietly(c);
                    c = null;
                    channel = closeQuietly(channel);
                }
            }
            closeQuietly(c);
            closeQuietly(channel);
        }

        void stop() {
            stopped = true;
            thread.interrupt();
            try {
                thread.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        private static FileChannel closeQuietly(FileChannel f) {
            if (f != null) {
                try {
                    f.close();
                } catch (IOException ignored) {
                    // closing after a failure
                }
            }
            return null;
        }

        private static void closeQuietly(Connection c) {
            if (c != null) {
                try {
                    c.close();
                } catch (SQLException ignored) {
                    // closing after a failure
                }
            }
        }
    }

    /** SQLite: how often the background checkpoint synced the database file so far (tests). */
    long checkpointSyncs() {
        return checkpointer == null ? 0 : checkpointer.syncs;
    }

    /**
     * Opens (and migrates) the database.
     *
     * @param url {@code jdbc:sqlite:FILE} (relative to {@code home}) or {@code jdbc:postgresql://...}
     */
    public static Database open(String url, String user, char[] password, Path home) {
        return open(url, user, password, home, false);
    }

    /**
     * Opens the database for reading only, as a replica serves it: no migration (the store must
     * already have this version's schema), no checkpoints, read-only connections (SQLite opens the
     * file read-only; PostgreSQL sessions are read-only, so a hot standby works). Every write fails.
     */
    public static Database openReadOnly(String url, String user, char[] password, Path home) {
        return open(url, user, password, home, true);
    }

    private static Database open(String url, String user, char[] password, Path home, boolean readOnly) {
        Dialect dialect;
        Properties props = new Properties();
        String jdbcUrl = url;
        Path sqliteFile = null;
        if (url.startsWith("jdbc:sqlite:")) {
            dialect = Dialect.SQLITE;
            String file = url.substring("jdbc:sqlite:".length());
            int q = file.indexOf('?');
            String path = q < 0 ? file : file.substring(0, q);
            Path p = Path.of(path);
            if (!p.isAbsolute() && home != null) {
                p = home.resolve(p);
            }
            if (readOnly && !Files.isRegularFile(p)) {
                throw new PkiException(ErrorKind.CONFIG, "no store at " + p.toAbsolutePath() + " to read; a read-only node serves an existing store");
            }
            try {
                Files.createDirectories(p.toAbsolutePath().getParent());
            } catch (IOException e) {
                throw new PkiException(ErrorKind.CONFIG, "cannot create the folder for " + p + ": " + e.getMessage());
            }
            sqliteFile = p.toAbsolutePath();
            if (!readOnly) {
                ownerOnly(sqliteFile);
            }
            jdbcUrl = "jdbc:sqlite:" + sqliteFile;
            if (readOnly) {
                props.setProperty("open_mode", "1"); // SQLITE_OPEN_READONLY
            } else {
                props.setProperty("journal_mode", "WAL");
                props.setProperty("synchronous", "FULL"); // durable: fsync on every commit
            }
            props.setProperty("busy_timeout", "30000");
            props.setProperty("foreign_keys", "true");
            // no memory map by default: the checkpoints grow the file every 50 ms under load, and each reader then
            // unmaps and maps it again on its next read, which cost more than the read() calls it saves (docs/store.md)
            props.setProperty("mmap_size", String.valueOf(Long.getLong("fleetpki.sqliteMmapBytes", 0)));
        } else if (url.startsWith("jdbc:postgresql:")) {
            dialect = Dialect.POSTGRESQL;
            if (user != null) {
                props.setProperty("user", user);
            }
            if (password != null) {
                props.setProperty("password", new String(password));
            }
            props.setProperty("reWriteBatchedInserts", "true");
            props.setProperty("connectTimeout", "10");
            if (readOnly) {
                props.setProperty("readOnly", "true");
                props.setProperty("readOnlyMode", "always");
            }
        } else {
            throw new PkiException(ErrorKind.CONFIG, "store URL '" + url + "' is neither jdbc:sqlite:FILE nor jdbc:postgresql://HOST/DB");
        }
        if (!readOnly && !schemaCurrent(jdbcUrl, props)) {
            migrate(jdbcUrl, props, dialect);
        }
        HikariConfig hc = new HikariConfig();
        hc.setJdbcUrl(jdbcUrl);
        hc.setDataSourceProperties(props);
        hc.setMaximumPoolSize(dialect == Dialect.SQLITE ? 4 : 8);
        hc.setMinimumIdle(1);
        hc.setPoolName("fleetpki-read");
        hc.setConnectionTimeout(5_000); // then 503 with Retry-After (StoreFaults): the caller tries again later
        if (readOnly) {
            hc.setReadOnly(true);
        }
        Database db = new Database(jdbcUrl, sqliteFile, dialect, new HikariDataSource(hc), props, readOnly);
        if (readOnly) {
            db.requireSchema();
        }
        return db;
    }

    /** A read-only node cannot migrate: it checks the store already has the tables this version reads. */
    private void requireSchema() {
        try (Connection c = read(); Statement s = c.createStatement()) {
            s.executeQuery("SELECT 1 FROM ocsp_response WHERE 1 = 0").close();
            s.executeQuery("SELECT 1 FROM crl WHERE 1 = 0").close();
            s.executeQuery("SELECT 1 FROM revocation_epoch WHERE 1 = 0").close();
        } catch (SQLException e) {
            readers.close();
            throw new PkiException(ErrorKind.CONFIG, "the store at " + redact(url) + " has no revocation tables yet (" + e.getMessage()
                    + "); start a writable fleetpki on it once (it migrates the schema), then the read-only node");
        }
    }

    public boolean readOnly() {
        return readOnly;
    }

    /**
     * The store holds hashes of secrets and tokens and the audit log: the file is created readable
     * by its owner only (0600), and an existing one is narrowed to that. SQLite creates its -wal
     * and -shm files with the database file's permissions. Where POSIX permissions do not exist,
     * nothing is changed.
     */
    static void ownerOnly(Path file) {
        var perms = PosixFilePermissions.fromString("rw-------");
        try {
            if (!Files.exists(file)) {
                Files.createFile(file, PosixFilePermissions.asFileAttribute(perms));
            }
            for (Path p : List.of(file, Path.of(file + "-wal"), Path.of(file + "-shm"))) {
                if (Files.exists(p) && !Files.getPosixFilePermissions(p).equals(perms)) {
                    Files.setPosixFilePermissions(p, perms);
                }
            }
        } catch (UnsupportedOperationException e) {
            // not a POSIX file system
        } catch (IOException e) {
            throw new PkiException(ErrorKind.CONFIG, "cannot create or restrict the store file " + file + ": " + e.getMessage());
        }
    }

    /** The newest migration in db/fleetpki (a test keeps the two in step). */
    static final String SCHEMA_VERSION = "13";

    /**
     * True when the store's newest applied migration is this version's newest and it succeeded: then
     * there is nothing to migrate, and Flyway (about half a second of class loading and checks on
     * every CLI command) is not started. Anything else (no history table, an older, newer or failed
     * migration) goes through Flyway as before.
     */
    private static boolean schemaCurrent(String jdbcUrl, Properties props) {
        try (Connection c = DriverManager.getConnection(jdbcUrl, props);
             Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT version, success FROM flyway_schema_history WHERE version IS NOT NULL "
                     + "ORDER BY installed_rank DESC LIMIT 1")) {
            return rs.next() && SCHEMA_VERSION.equals(rs.getString(1)) && rs.getBoolean(2);
        } catch (SQLException e) {
            return false; // a new store, or not readable: Flyway says what is wrong
        }
    }

    private static void migrate(String jdbcUrl, Properties props, Dialect dialect) {
        try {
            Flyway.configure()
                    .dataSource(jdbcUrl, props.getProperty("user"), props.getProperty("password"))
                    .locations("classpath:db/fleetpki")
                    .placeholders(Map.of("blob", dialect == Dialect.SQLITE ? "BLOB" : "BYTEA"))
                    .loggers("slf4j")
                    .load()
                    .migrate();
        } catch (FlywayException e) {
            throw new PkiException(ErrorKind.CONFIG, "cannot open or migrate the store at " + redact(jdbcUrl) + ": " + firstLine(e.getMessage())
                    + (dialect == Dialect.POSTGRESQL ? "; is PostgreSQL running and the database created?" : ""), e);
        }
    }

    /** The first line of an error message (drivers add lines of detail and hints). */
    static String firstLine(String s) {
        if (s == null) {
            return "unknown error";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    /** A JDBC URL fit for messages: a password in it replaced by ***. */
    public static String redact(String url) {
        return url.replaceAll("(?i)(password=)[^&]*", "$1***");
    }

    public Dialect dialect() {
        return dialect;
    }

    public Connection read() throws SQLException {
        return readers.getConnection();
    }

    /** A new connection for the single writer, outside the pool. */
    Connection newWriterConnection() throws SQLException {
        if (readOnly) {
            throw new SQLException("this store was opened read-only (a replica): it cannot be written here");
        }
        Connection c = DriverManager.getConnection(url, props);
        // SQLite: autocommit stays on and the writer issues BEGIN IMMEDIATE / COMMIT itself, because the
        // driver would otherwise open the next transaction right after each commit and hold the write lock.
        c.setAutoCommit(dialect == Dialect.SQLITE);
        if (dialect == Dialect.SQLITE) {
            try (Statement s = c.createStatement()) {
                s.execute("PRAGMA wal_autocheckpoint = 16000"); // a backstop; the Checkpointer thread does it normally
            }
        }
        if (dialect == Dialect.POSTGRESQL) {
            try (Statement s = c.createStatement()) {
                s.execute("SET synchronous_commit = on");
            }
            c.commit();
        }
        return c;
    }

    void begin(Connection c) throws SQLException {
        if (dialect == Dialect.SQLITE) {
            try (Statement s = c.createStatement()) {
                s.execute("BEGIN IMMEDIATE");
            }
        }
    }

    void commit(Connection c) throws SQLException {
        if (dialect == Dialect.SQLITE) {
            try (Statement s = c.createStatement()) {
                s.execute("COMMIT");
            }
        } else {
            c.commit();
        }
    }

    void rollback(Connection c) throws SQLException {
        if (dialect == Dialect.SQLITE) {
            try (Statement s = c.createStatement()) {
                s.execute("ROLLBACK");
            } catch (SQLException e) {
                if (!String.valueOf(e.getMessage()).contains("no transaction is active")) {
                    throw e;
                }
            }
        } else {
            c.rollback();
        }
    }

    /**
     * Writes a consistent copy of a SQLite store to {@code target} while it is in use ({@code VACUUM
     * INTO}: one read transaction, so the copy is the state of one moment, with no WAL beside it).
     */
    public void snapshotTo(Path target) {
        if (dialect != Dialect.SQLITE) {
            throw new PkiException(ErrorKind.CONFIG, "only a SQLite store is copied by fleetpki; back up PostgreSQL with pg_dump (docs/backup.md)");
        }
        try (Connection c = read(); Statement s = c.createStatement()) {
            s.execute("VACUUM INTO '" + target.toAbsolutePath().toString().replace("'", "''") + "'");
        } catch (SQLException e) {
            throw new PkiException(ErrorKind.INTERNAL, "cannot copy the store to " + target + ": " + e.getMessage());
        }
    }

    public String describe() {
        return redact(url);
    }

    @Override
    public void close() {
        if (checkpointer != null) {
            checkpointer.stop();
        }
        readers.close();
    }
}
