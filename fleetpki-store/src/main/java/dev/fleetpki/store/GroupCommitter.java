package dev.fleetpki.store;

import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import java.sql.Connection;
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
 * The single writer. Callers hand it operations and wait; it runs every operation waiting at that
 * moment in one transaction and one durable commit (group commit), so many concurrent issuances
 * share one fsync. When a group fails (say one duplicate serial), each operation is retried in a
 * transaction of its own so only the faulty one fails. A caller returns only after its commit.
 */
final class GroupCommitter implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(GroupCommitter.class);
    static final int MAX_GROUP = 256;

    interface Op {
        void apply(Tx tx) throws SQLException;
    }

    private record Pending(Op op, CompletableFuture<Void> done) {}

    private final Database db;
    private final LinkedBlockingQueue<Pending> queue = new LinkedBlockingQueue<>();
    private final Thread thread;
    private volatile boolean closed;
    private Connection conn;

    GroupCommitter(Database db) {
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
        try {
            execute(group);
            group.forEach(p -> p.done().complete(null));
            return;
        } catch (Throwable t) {
            rollback();
            if (group.size() == 1) {
                group.getFirst().done().completeExceptionally(t);
                return;
            }
        }
        for (Pending p : group) {
            try {
                execute(List.of(p));
                p.done().complete(null);
            } catch (Throwable t) {
                rollback();
                p.done().completeExceptionally(t);
            }
        }
    }

    private void execute(List<Pending> group) throws SQLException {
        Connection c = connection();
        db.begin(c);
        Tx tx = new Tx(c, db.dialect());
        try {
            for (Pending p : group) {
                p.op().apply(tx);
            }
            tx.finish();
            db.commit(c);
        } finally {
            tx.close();
        }
    }

    private Connection connection() throws SQLException {
        if (conn == null || conn.isClosed() || !conn.isValid(2)) {
            closeConnection();
            conn = db.newWriterConnection();
        }
        return conn;
    }

    private void rollback() {
        try {
            if (conn != null && !conn.isClosed()) {
                db.rollback(conn);
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
