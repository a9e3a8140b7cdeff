package dev.fleetpki.store;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleetpki.core.Device;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import java.io.ByteArrayInputStream;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * What every JDBC aggregate shares: the database, the group-committing writer, the read
 * statements kept per connection (SQLite), queries, and the column codecs.
 */
final class Jdbc {
    static final ObjectMapper JSON = new ObjectMapper();
    private final Database db;
    private final GroupCommitter writer;
    /** SQLite: prepared statements kept per read connection; null for PostgreSQL, whose driver keeps them. */
    private final StatementCache statements;

    Jdbc(Database db) {
        this.db = db;
        this.statements = db.dialect() == Database.Dialect.SQLITE ? new StatementCache() : null;
        this.writer = new GroupCommitter(db);
    }

    Database db() {
        return db;
    }

    GroupCommitter writer() {
        return writer;
    }


    void write(String uniqueViolationMessage, GroupCommitter.Op op) {
        try {
            writer.run(op);
        } catch (SQLException e) {
            if (uniqueViolationMessage != null && GroupCommitter.isUniqueViolation(e)) {
                throw new PkiException(ErrorKind.CONFLICT, uniqueViolationMessage);
            }
            throw storeFailure("write", e);
        }
    }

    PkiException storeFailure(String what, SQLException e) {
        if (StoreFaults.unavailable(e)) {
            return new PkiException(ErrorKind.UNAVAILABLE, "the store at " + db.describe() + " does not answer (" + Database.firstLine(e.getMessage())
                    + "), so nothing was done; try again when it is back (the server log says more)", e);
        }
        return new PkiException(ErrorKind.INTERNAL, "the store at " + db.describe() + " could not " + what + ": " + e.getMessage(), e);
    }

    interface Row<T> {
        T map(ResultSet rs) throws SQLException;
    }

    <T> List<T> query(String sql, Row<T> row, Object... args) {
        try (Connection c = db.read()) {
            if (statements == null) {
                try (PreparedStatement ps = c.prepareStatement(sql)) {
                    return rows(ps, row, args);
                }
            }
            PreparedStatement ps = statements.prepare(c, sql);
            try {
                return rows(ps, row, args);
            } catch (SQLException | RuntimeException e) {
                statements.forget(c, sql);
                throw e;
            }
        } catch (SQLException e) {
            throw storeFailure("read", e);
        }
    }

    private static <T> List<T> rows(PreparedStatement ps, Row<T> row, Object... args) throws SQLException {
        for (int i = 0; i < args.length; i++) {
            ps.setObject(i + 1, args[i]);
        }
        List<T> out = new ArrayList<>();
        try (ResultSet rs = ps.executeQuery()) { // closing it resets the statement: SQLite's read transaction ends here
            while (rs.next()) {
                out.add(row.map(rs));
            }
        }
        return out;
    }

    <T> Optional<T> queryOne(String sql, Row<T> row, Object... args) {
        List<T> l = query(sql, row, args);
        return l.isEmpty() ? Optional.empty() : Optional.of(l.getFirst());
    }

    static Instant instant(ResultSet rs, int column) throws SQLException {
        long v = rs.getLong(column);
        return rs.wasNull() ? null : Instant.ofEpochMilli(v);
    }

    static Device toDevice(ResultSet rs) throws SQLException {
        return toDevice(rs, 1);
    }

    /** The device in the six columns from {@code first}: id, model, tags, status, key_location, created_at. */
    static Device toDevice(ResultSet rs, int first) throws SQLException {
        Map<String, String> tags;
        String json = rs.getString(first + 2);
        try {
            // most devices have no tags: they skip the JSON parser (half the cost of mapping a device row, profiled)
            tags = "{}".equals(json) ? Map.of() : JSON.readValue(json, new TypeReference<Map<String, String>>() {});
        } catch (JsonProcessingException e) {
            throw new SQLException("device tags are not JSON", e);
        }
        return new Device(rs.getString(first), rs.getString(first + 1), tags, Device.Status.valueOf(rs.getString(first + 3)), rs.getString(first + 4),
                Instant.ofEpochMilli(rs.getLong(first + 5)));
    }

    static X509Certificate cert(byte[] der) throws SQLException {
        try {
            return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(new ByteArrayInputStream(der));
        } catch (CertificateException e) {
            throw new SQLException("stored certificate does not decode", e);
        }
    }

    static byte[] der(X509Certificate c) {
        try {
            return c.getEncoded();
        } catch (CertificateEncodingException e) {
            throw new PkiException(ErrorKind.INTERNAL, "cannot encode certificate", e);
        }
    }

    static String json(Map<String, String> m) {
        try {
            return JSON.writeValueAsString(new TreeMap<>(m));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
