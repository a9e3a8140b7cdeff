package dev.fleetpki.store;

import dev.fleetpki.core.CmpTransaction;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.store.CmpTransactionStore;
import dev.fleetpki.core.store.NonceStore;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/** CMP transactions and seen nonces on JDBC. */
final class JdbcCmpTransactions implements CmpTransactionStore, NonceStore {
    private static final String COLUMNS = "id, device_id, credential, answer_type, state, server_nonce, request_id, serial, created_at, confirm_by";
    private final Jdbc jdbc;

    JdbcCmpTransactions(Jdbc jdbc) {
        this.jdbc = jdbc;
    }

    @Override
    public void beginCmpTransaction(CmpTransaction t) {
        jdbc.write("CMP transaction " + t.id() + " was seen before; every request starts a transaction with a new random transactionID", tx -> {
            try (PreparedStatement ps = tx.connection().prepareStatement("INSERT INTO cmp_transaction (" + COLUMNS + ") VALUES (?,?,?,?,?,?,?,?,?,?)")) {
                ps.setString(1, t.id());
                ps.setString(2, t.deviceId());
                ps.setString(3, t.credential());
                ps.setInt(4, t.answerType());
                ps.setString(5, t.state().name());
                ps.setString(6, t.serverNonce());
                ps.setString(7, t.requestId());
                ps.setString(8, t.serial());
                ps.setLong(9, t.createdAt().toEpochMilli());
                setInstant(ps, 10, t.confirmBy());
                ps.executeUpdate();
            }
        });
    }

    @Override
    public Optional<CmpTransaction> cmpTransaction(String id) {
        return jdbc.queryOne("SELECT " + COLUMNS + " FROM cmp_transaction WHERE id = ?", JdbcCmpTransactions::row, id);
    }

    @Override
    public boolean updateCmpTransaction(CmpTransaction read, CmpTransaction next) {
        if (!read.id().equals(next.id())) {
            throw new PkiException(ErrorKind.INTERNAL, "a CMP transaction cannot change its id");
        }
        boolean[] updated = new boolean[1];
        jdbc.write(null, tx -> {
            try (PreparedStatement ps = tx.connection().prepareStatement("UPDATE cmp_transaction SET device_id = ?, state = ?, server_nonce = ?, "
                    + "request_id = ?, serial = ?, confirm_by = ? WHERE id = ? AND state = ?")) {
                ps.setString(1, next.deviceId());
                ps.setString(2, next.state().name());
                ps.setString(3, next.serverNonce());
                ps.setString(4, next.requestId());
                ps.setString(5, next.serial());
                setInstant(ps, 6, next.confirmBy());
                ps.setString(7, read.id());
                ps.setString(8, read.state().name());
                updated[0] = ps.executeUpdate() == 1;
            }
        });
        return updated[0];
    }

    @Override
    public List<CmpTransaction> unconfirmedCmpTransactions(Instant now, int limit) {
        return jdbc.query("SELECT " + COLUMNS + " FROM cmp_transaction WHERE state = 'ISSUED' AND confirm_by < ? ORDER BY confirm_by LIMIT ?",
                JdbcCmpTransactions::row, now.toEpochMilli(), limit);
    }

    @Override
    public boolean firstSeen(String scope, String value, Instant at) {
        try {
            jdbc.write("seen", tx -> {
                try (PreparedStatement ps = tx.connection().prepareStatement("INSERT INTO seen_nonce (scope, value, seen_at) VALUES (?,?,?)")) {
                    ps.setString(1, scope);
                    ps.setString(2, value);
                    ps.setLong(3, at.toEpochMilli());
                    ps.executeUpdate();
                }
            });
            return true;
        } catch (PkiException e) {
            if (e.kind() == ErrorKind.CONFLICT) {
                return false;
            }
            throw e;
        }
    }

    @Override
    public int forgetNonces(Instant before) {
        int[] n = new int[1];
        jdbc.write(null, tx -> {
            try (PreparedStatement ps = tx.connection().prepareStatement("DELETE FROM seen_nonce WHERE seen_at < ?")) {
                ps.setLong(1, before.toEpochMilli());
                n[0] = ps.executeUpdate();
            }
        });
        return n[0];
    }

    private static void setInstant(PreparedStatement ps, int i, Instant at) throws SQLException {
        if (at == null) {
            ps.setNull(i, Types.BIGINT);
        } else {
            ps.setLong(i, at.toEpochMilli());
        }
    }

    private static CmpTransaction row(ResultSet rs) throws SQLException {
        return new CmpTransaction(rs.getString(1), rs.getString(2), rs.getString(3), rs.getInt(4), CmpTransaction.State.valueOf(rs.getString(5)),
                rs.getString(6), rs.getString(7), rs.getString(8), Instant.ofEpochMilli(rs.getLong(9)), Jdbc.instant(rs, 10));
    }
}
