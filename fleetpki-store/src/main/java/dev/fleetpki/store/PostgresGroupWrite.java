package dev.fleetpki.store;

import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** How a group's rows reach PostgreSQL: one multi-statement request with the rows as arrays (see {@link Tx} for SQLite's way). */
final class PostgresGroupWrite {
    /** The audit head moving from (baseSeq, baseHash) to (seq, hash). */
    record HeadMove(long seq, String hash, long baseSeq, String baseHash) {}

    private PostgresGroupWrite() {}

    /**
     * PostgreSQL: the head update, the device check (rows locked FOR SHARE until commit), and the
     * certificate and audit rows (as arrays, unnested), sent as one multi-statement request, so a
     * group costs two round trips with its commit however many certificates it holds. The head
     * update comes first: its row lock is the first thing any writer takes, so writers in several
     * processes queue on it and never deadlock.
     *
     * @param move the head update, or null when the group appends no audit event
     * @return which of {@code activeDevices} are active (their rows now locked until commit)
     */
    static Set<String> write(Connection c, HeadMove move, Set<String> activeDevices, List<Tx.CertRow> certs, List<Tx.AuditRow> audits)
            throws SQLException {
        boolean moves = move != null;
        Set<String> active = new HashSet<>();
        StringBuilder sql = new StringBuilder();
        if (moves) {
            sql.append(Tx.HEAD_UPDATE).append(";\n");
        }
        if (!activeDevices.isEmpty()) {
            sql.append("SELECT id FROM device WHERE status = 'ACTIVE' AND id = ANY (?) FOR SHARE;\n");
        }
        if (!certs.isEmpty()) {
            sql.append(Tx.INSERT_CERTIFICATE).append(" SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[], ")
                    .append("?::bigint[], ?::bytea[], ?::boolean[], ?::text[], ?::bigint[], ?::text[]);\n");
        }
        if (!audits.isEmpty()) {
            sql.append(Tx.INSERT_AUDIT).append(" SELECT * FROM unnest(?::bigint[], ?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[]);\n");
        }
        if (sql.isEmpty()) {
            return active;
        }
        List<Array> arrays = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement(sql.toString())) {
            int i = 1;
            if (moves) {
                ps.setLong(i++, move.seq());
                ps.setString(i++, move.hash());
                ps.setLong(i++, move.baseSeq());
                ps.setString(i++, move.baseHash());
            }
            if (!activeDevices.isEmpty()) {
                ps.setArray(i++, array(c, arrays, "text", activeDevices.toArray(String[]::new)));
            }
            if (!certs.isEmpty()) {
                int n = certs.size();
                String[] serial = new String[n], ca = new String[n], device = new String[n], profile = new String[n], subject = new String[n];
                String[] issuedBy = new String[n], protocol = new String[n];
                Long[] notBefore = new Long[n], notAfter = new Long[n], issuedAt = new Long[n];
                byte[][] der = new byte[n][];
                Boolean[] pop = new Boolean[n];
                for (int k = 0; k < n; k++) {
                    Tx.CertRow r = certs.get(k);
                    serial[k] = r.serial();
                    ca[k] = r.ca();
                    device[k] = r.deviceId();
                    profile[k] = r.profile();
                    subject[k] = r.subject();
                    notBefore[k] = r.notBefore();
                    notAfter[k] = r.notAfter();
                    der[k] = r.der();
                    pop[k] = r.proofOfPossession();
                    issuedBy[k] = r.issuedBy();
                    issuedAt[k] = r.issuedAt();
                    protocol[k] = r.protocol();
                }
                ps.setArray(i++, array(c, arrays, "text", serial));
                ps.setArray(i++, array(c, arrays, "text", ca));
                ps.setArray(i++, array(c, arrays, "text", device));
                ps.setArray(i++, array(c, arrays, "text", profile));
                ps.setArray(i++, array(c, arrays, "text", subject));
                ps.setArray(i++, array(c, arrays, "int8", notBefore));
                ps.setArray(i++, array(c, arrays, "int8", notAfter));
                ps.setArray(i++, array(c, arrays, "bytea", der));
                ps.setArray(i++, array(c, arrays, "bool", pop));
                ps.setArray(i++, array(c, arrays, "text", issuedBy));
                ps.setArray(i++, array(c, arrays, "int8", issuedAt));
                ps.setArray(i++, array(c, arrays, "text", protocol));
            }
            if (!audits.isEmpty()) {
                int n = audits.size();
                Long[] s = new Long[n], at = new Long[n];
                String[] actor = new String[n], action = new String[n], target = new String[n], detail = new String[n], prev = new String[n], hash = new String[n];
                for (int k = 0; k < n; k++) {
                    Tx.AuditRow r = audits.get(k);
                    s[k] = r.seq();
                    at[k] = r.at();
                    actor[k] = r.actor();
                    action[k] = r.action();
                    target[k] = r.target();
                    detail[k] = r.detail();
                    prev[k] = r.prevHash();
                    hash[k] = r.hash();
                }
                ps.setArray(i++, array(c, arrays, "int8", s));
                ps.setArray(i++, array(c, arrays, "int8", at));
                ps.setArray(i++, array(c, arrays, "text", actor));
                ps.setArray(i++, array(c, arrays, "text", action));
                ps.setArray(i++, array(c, arrays, "text", target));
                ps.setArray(i++, array(c, arrays, "text", detail));
                ps.setArray(i++, array(c, arrays, "text", prev));
                ps.setArray(i++, array(c, arrays, "text", hash));
            }
            boolean isResultSet = ps.execute();
            // results arrive in statement order: head update count, device rows, certificate and audit insert counts
            if (moves) {
                Tx.headUpdated(ps.getUpdateCount());
                isResultSet = ps.getMoreResults();
            }
            if (!activeDevices.isEmpty()) {
                if (!isResultSet) {
                    throw new SQLException("expected the active devices as a result set");
                }
                try (ResultSet rs = ps.getResultSet()) {
                    while (rs.next()) {
                        active.add(rs.getString(1));
                    }
                }
                ps.getMoreResults();
            }
            if (!certs.isEmpty()) {
                if (ps.getUpdateCount() != certs.size()) {
                    throw new SQLException("stored " + ps.getUpdateCount() + " of " + certs.size() + " certificates");
                }
                ps.getMoreResults();
            }
            if (!audits.isEmpty()) {
                if (ps.getUpdateCount() != audits.size()) {
                    throw new SQLException("stored " + ps.getUpdateCount() + " of " + audits.size() + " audit events");
                }
                ps.getMoreResults();
            }
            return active;
        } finally {
            for (Array a : arrays) {
                a.free();
            }
        }
    }

    private static Array array(Connection c, List<Array> arrays, String type, Object[] values) throws SQLException {
        Array a = c.createArrayOf(type, values);
        arrays.add(a);
        return a;
    }
}
