package dev.fleetpki.store;

import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The writers. Callers hand them operations and wait; a writer runs every operation waiting at
 * that moment in one transaction and one durable commit (group commit), so many concurrent
 * issuances share one fsync. When a group fails (say one duplicate serial), each operation is
 * retried in a transaction of its own so only the faulty one fails. A caller returns only after
 * its commit.
 *
 * <p>There is one writer thread, with one connection. Two PostgreSQL writers pipelining groups
 * were measured slower on the benchmark machine (groups half as big, twice the PostgreSQL CPU per
 * certificate; bench/README.md), and SQLite takes one write transaction at a time anyway.
 */
final class GroupCommitter implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(GroupCommitter.class);
    static final int MAX_GROUP = 256;
    static final int MAX_RETRIES = 10;

    interface Op {
        void apply(Tx tx) throws SQLException;
    }

    private record Pending(Op op, CompletableFuture<Void> done) {}

    private final Database db;
    private final LinkedBlockingQueue<Pending> queue = new LinkedBlockingQueue<>();
    private final Tx.AuditChain chain = new Tx.AuditChain();
    /** SQLite: the writer's statements, kept across groups (at paced load most groups hold one or two writes); null on PostgreSQL. */
    private final StatementCache statements;
    private final Thread thread;
    private volatile boolean closed;
    private Connection conn;

    GroupCommitter(Database db) {
        this.statements = db.dialect() == Database.Dialect.SQLITE ? new StatementCache() : null;
        this.db = db;
        this.thread = Thread.ofPlatform().name("fleetpki-writer").daemon(true).start(this::loop);
    }

    /** Runs the operation in a committed transaction; rethrows what it threw. */
    void run(Op op) throws SQLException {
        if (closed) {
            throw new PkiException(ErrorKind.INTERNAL, "the store is closed");
        }
        CompletableFuture<Void> f = new CompletableFuture<>();
        queue.add(new Pending(op, f));
        try {
            f.join();
        } catch (CompletionException e) {
            Throwable c = e.getCause();
            if (c instanceof SQLException s) {
                throw s;
            }
            if (c instanceof RuntimeException r) {
                throw r;
            }
            throw new PkiException(ErrorKind.INTERNAL, "store write failed", c);
        }
    }

    private void loop() {
        List<Pending> group = new ArrayList<>();
        while (!closed || !queue.isEmpty()) {
            try {
                Pending first = queue.poll(100, TimeUnit.MILLISECONDS);
                if (first == null) {
                    continue;
                }
                group.clear();
                group.add(first);
                queue.drainTo(group, MAX_GROUP - 1);
                commitGroup(group);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            } catch (Throwable t) {
                LOG.error("writer loop error", t);
                group.forEach(p -> p.done().completeExceptionally(t));
            }
        }
        closeConnection();
    }

    private void commitGroup(List<Pending> group) {
        Throwable failure = attempt(group);
        if (failure == null) {
            group.forEach(p -> p.done().complete(null));
            return;
        }
        if (group.size() == 1 || (commitSent && StoreFaults.connectionLost(failure))) {
            // one operation, or a group whose COMMIT went out on a connection that broke and whose outcome could not be read
            // back: running its operations again could store them twice, so each caller gets the failure (503, try again)
            group.forEach(p -> p.done().completeExceptionally(failure));
            return;
        }
        for (Pending p : group) {
            Throwable t = attempt(List.of(p));
            if (t == null) {
                p.done().complete(null);
            } else {
                p.done().completeExceptionally(t);
            }
        }
    }

    /**
     * Runs the operations in one transaction, again while the failure is retryable (another
     * process appended to the audit chain meanwhile, or PostgreSQL broke a deadlock); returns
     * null once committed, or what failed.
     */
    private Throwable attempt(List<Pending> group) {
        for (int i = 0; ; i++) {
            commitSent = false;
            try {
                execute(group);
                return null;
            } catch (Throwable t) {
                // a connection that broke before COMMIT was sent (cut while idle, the database restarted) committed nothing:
                // once more on a new one; after COMMIT was sent the outcome is unknown, so the caller gets the failure
                boolean lostBeforeCommit = i == 0 && !commitSent && StoreFaults.connectionLost(t);
                if (!lostBeforeCommit && (i >= MAX_RETRIES || !retryable(t))) {
                    return t;
                }
            }
        }
    }

    /** Set once the current attempt sent COMMIT: a failure after it may have committed. */
    private boolean commitSent;

    private void execute(List<Pending> group) throws SQLException {
        Connection c = connection();
        db.begin(c);
        Tx tx = new Tx(c, db.dialect(), chain, statements);
        try {
            for (Pending p : group) {
                p.op().apply(tx);
            }
            tx.finish();
            commitSent = true;
            db.commit(c);
            chain.committed(tx);
        } catch (Throwable t) {
            if (commitSent && StoreFaults.connectionLost(t) && committedAnyway(tx)) {
                chain.forget();
                closeConnection();
                return; // the COMMIT reached the database before the connection broke: the group is stored
            }
            if (t instanceof Tx.StaleAuditChain) {
                chain.contended();
            }
            chain.forget(); // the next group reads the head back
            if (statements != null) {
                statements.forgetAll(c); // a statement may hold rows of an unexecuted batch, or be mid-step
            }
            rollback();
            throw t;
        } finally {
            tx.close();
        }
    }

    /**
     * After the connection broke with COMMIT sent: did it commit? The group's last audit event is
     * looked up on a new connection; its sequence number is unique, so finding it with this
     * group's hash means the group is stored. A group without audit events, or a store still out of
     * reach, stays unknown (false).
     */
    private boolean committedAnyway(Tx tx) {
        if (tx.lastSeq() < 0) {
            return false;
        }
        closeConnection();
        try (Connection c = db.newWriterConnection();
             PreparedStatement ps = c.prepareStatement("SELECT hash FROM audit_event WHERE seq = ?")) {
            ps.setLong(1, tx.lastSeq());
            try (ResultSet rs = ps.executeQuery()) {
                boolean stored = rs.next() && tx.lastHash().equals(rs.getString(1));
                LOG.warn("the store's connection broke while committing a group of writes; it {} committed (audit event {})",
                        stored ? "was" : "was not", tx.lastSeq());
                return stored;
            } finally {
                db.rollback(c);
            }
        } catch (SQLException e) {
            return false;
        }
    }

    private Connection connection() throws SQLException {
        if (conn == null || conn.isClosed()) {
            closeConnection();
            conn = db.newWriterConnection();
        }
        return conn;
    }

    /** After a failure: roll back, and drop a connection that broke. */
    private void rollback() {
        try {
            if (conn != null && !conn.isClosed()) {
                db.rollback(conn);
                if (!conn.isValid(2)) {
                    closeConnection();
                }
            }
        } catch (SQLException e) {
            LOG.warn("rollback failed; reconnecting: {}", e.getMessage());
            closeConnection();
        }
    }

    private void closeConnection() {
        if (conn != null) {
            try {
                conn.close();
            } catch (SQLException ignored) {
                // a broken connection is replaced on next use
            }
            conn = null;
        }
    }

    /**
     * Worth one more try: the audit head moved under the group (or another process took its next
     * sequence number), or PostgreSQL broke a deadlock or serialization conflict.
     */
    static boolean retryable(Throwable t) {
        if (t instanceof Tx.StaleAuditChain) {
            return true;
        }
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof SQLException s && ("40P01".equals(s.getSQLState()) || "40001".equals(s.getSQLState()))) {
                return true;
            }
            // another process appended the same audit sequence number first
            if (c instanceof SQLException s && isUniqueViolation(s) && String.valueOf(s.getMessage()).contains("audit_event")) {
                return true;
            }
        }
        return false;
    }

    static boolean isUniqueViolation(SQLException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLException s) {
                if ("23505".equals(s.getSQLState())) {
                    return true;
                }
                String m = String.valueOf(s.getMessage());
                if (m.contains("UNIQUE constraint failed") || m.contains("PRIMARY KEY constraint")
                        || m.contains("SQLITE_CONSTRAINT_PRIMARYKEY") || m.contains("SQLITE_CONSTRAINT_UNIQUE")) {
                    return true;
                }
                if (s.getNextException() != null && isUniqueViolation(s.getNextException())) {
                    return true;
                }
            }
        }
        return false;
    }

    @Override
    public void close() {
        closed = true;
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
