package dev.fleetpki.store;

import dev.fleetpki.core.Actor;
import dev.fleetpki.core.AuditAction;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.Device;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.RevocationReason;
import dev.fleetpki.core.store.DeviceStore;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Registered devices on JDBC; keeps the short-lived cache issuance reads devices through. */
final class JdbcDevices implements DeviceStore {
    /** Devices for issuance's early check; the commit checks the device again. */
    static final long DEVICE_TTL_MILLIS = 10_000;
    private final Jdbc jdbc;
    private final TtlCache<Device> cache = new TtlCache<>(DEVICE_TTL_MILLIS);

    JdbcDevices(Jdbc jdbc) {
        this.jdbc = jdbc;
    }

    /**
     * The device as issuance sees it: served from a cache of at most {@link #DEVICE_TTL_MILLIS}
     * for the early check. The commit re-checks the device is active inside its own transaction,
     * so a device disabled or revoked meanwhile (here or on another node) still gets nothing.
     */
    Optional<Device> cached(String id) {
        return cache.get(id, this::deviceNow);
    }

    /** A device just read with something else (its enrollment secret), for the next {@link #cached} read. */
    void prime(Device d) {
        cache.put(d.id(), d);
    }

    /** The device as stored now, bypassing the cache. */
    @Override
    public Optional<Device> deviceNow(String id) {
        return jdbc.queryOne("SELECT id, model, tags, status, key_location, created_at FROM device WHERE id = ?", Jdbc::toDevice, id);
    }

    @Override
    public List<Device> devices(int limit) {
        return devices(null, null, null, limit);
    }

    /**
     * A page of devices in id order (keyset paging: pass the last id of the previous page).
     *
     * @param after only ids after this one, or null
     * @param status only this status, or null
     * @param model only this model, or null
     */
    @Override
    public List<Device> devices(String after, String prefix, Device.Status status, String model, int limit) {
        StringBuilder sql = new StringBuilder("SELECT id, model, tags, status, key_location, created_at FROM device WHERE 1 = 1");
        List<Object> args = new ArrayList<>();
        if (after != null) {
            sql.append(" AND id > ?");
            args.add(after);
        }
        if (prefix != null && !prefix.isEmpty()) {
            // the lower bound starts the index scan at the prefix; LIKE (with its wildcards escaped) decides
            sql.append(" AND id >= ? AND id LIKE ? ESCAPE '!'");
            args.add(prefix);
            args.add(prefix.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%");
        }
        if (status != null) {
            sql.append(" AND status = ?");
            args.add(status.name());
        }
        if (model != null) {
            sql.append(" AND model = ?");
            args.add(model);
        }
        sql.append(" ORDER BY id LIMIT ").append(Math.max(1, limit));
        return jdbc.query(sql.toString(), Jdbc::toDevice, args.toArray());
    }

    @Override
    public java.util.Map<Device.Status, Long> deviceCounts() {
        java.util.Map<Device.Status, Long> out = new java.util.EnumMap<>(Device.Status.class);
        jdbc.query("SELECT status, COUNT(*) FROM device GROUP BY status", rs -> out.put(Device.Status.valueOf(rs.getString(1)), rs.getLong(2)));
        return out;
    }

    @Override
    public void addDevice(Device d, AuditEvent event) {
        jdbc.write("device '" + d.id() + "' is already registered; see it with: fleetpki device show " + d.id(), tx -> {
            PreparedStatement ps = tx.batch(INSERT_DEVICE);
            bind(ps, d);
            ps.addBatch();
            tx.audit(event);
        });
    }

    static final String INSERT_DEVICE = "INSERT INTO device (id, model, tags, status, key_location, created_at) VALUES (?,?,?,?,?,?)";

    static void bind(PreparedStatement ps, Device d) throws java.sql.SQLException {
        ps.setString(1, d.id());
        ps.setString(2, d.model());
        ps.setString(3, Jdbc.json(d.tags()));
        ps.setString(4, d.status().name());
        ps.setString(5, d.keyLocation());
        ps.setLong(6, d.createdAt().toEpochMilli());
    }

    @Override
    public void addDevices(List<Device> devices, List<dev.fleetpki.core.EnrollmentSecret> secrets, List<AuditEvent> events) {
        jdbc.write("one of the devices was registered meanwhile; nothing was imported: run the import again to see which", tx -> {
            Connection c = tx.connection();
            try (PreparedStatement ps = c.prepareStatement(INSERT_DEVICE)) {
                for (Device d : devices) {
                    bind(ps, d);
                    ps.addBatch();
                }
                ps.executeBatch();
            }
            try (PreparedStatement ps = c.prepareStatement(JdbcCredentials.INSERT_SECRET)) {
                for (var e : secrets) {
                    JdbcCredentials.bind(ps, e);
                    ps.addBatch();
                }
                ps.executeBatch();
            }
            for (AuditEvent e : events) {
                tx.audit(e);
            }
        });
        // committed: issuance follows a bulk import (a factory batch), so its first read of each device needs no query;
        // kept as the store holds it (milliseconds); a very large import would only churn the cache
        if (devices.size() <= TtlCache.MAX_ENTRIES / 10) {
            for (Device d : devices) {
                cache.put(d.id(), new Device(d.id(), d.model(), d.tags(), d.status(), d.keyLocation(),
                        Instant.ofEpochMilli(d.createdAt().toEpochMilli())));
            }
        }
    }

    /**
     * Disables or enables a device (ACTIVE or DISABLED; doing it twice is fine). A revoked device
     * stays revoked: CONFLICT, nothing changed.
     */
    @Override
    public void setDeviceStatus(String id, Device.Status status, AuditEvent event) {
        if (status == Device.Status.REVOKED) {
            throw new IllegalArgumentException("a device is revoked with revokeDevice, which revokes its certificates too");
        }
        cache.invalidate(id);
        jdbc.write(null, tx -> {
            try (PreparedStatement ps = tx.connection().prepareStatement("UPDATE device SET status = ? WHERE id = ? AND status <> ?")) {
                ps.setString(1, status.name());
                ps.setString(2, id);
                ps.setString(3, Device.Status.REVOKED.name());
                if (ps.executeUpdate() != 1) {
                    boolean exists;
                    try (PreparedStatement q = tx.connection().prepareStatement("SELECT 1 FROM device WHERE id = ?")) {
                        q.setString(1, id);
                        try (ResultSet rs = q.executeQuery()) {
                            exists = rs.next();
                        }
                    }
                    throw exists ? new PkiException(ErrorKind.CONFLICT, "device '" + id + "' is revoked, and a revoked device stays revoked; "
                            + "register the hardware under a new id to use it again")
                            : new PkiException(ErrorKind.NOT_FOUND, "device '" + id + "' is not registered");
                }
            }
            tx.audit(event);
        });
        cache.invalidate(id);
    }

    /**
     * Marks a device revoked and revokes its unrevoked certificates, in one transaction.
     *
     * @return the serials revoked
     */
    @Override
    public List<String> revokeDevice(String id, RevocationReason reason, Instant at, Actor actor) {
        cache.invalidate(id);
        List<String> serials = new ArrayList<>();
        jdbc.write(null, tx -> {
            serials.clear();
            Connection c = tx.connection();
            try (PreparedStatement ps = c.prepareStatement("UPDATE device SET status = ? WHERE id = ?")) {
                ps.setString(1, Device.Status.REVOKED.name());
                ps.setString(2, id);
                if (ps.executeUpdate() != 1) {
                    throw new PkiException(ErrorKind.NOT_FOUND, "device '" + id + "' is not registered");
                }
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT serial FROM certificate WHERE device_id = ? AND revoked_at IS NULL ORDER BY serial")) {
                ps.setString(1, id);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        serials.add(rs.getString(1));
                    }
                }
            }
            JdbcCertificates.markRevoked(c, serials, reason, at, null);
            tx.audit(new AuditEvent(at, actor, AuditAction.DEVICE_REVOKE, "device:" + id, Map.of("reason", reason.configName(),
                    "certificates", String.join(",", serials))));
        });
        return List.copyOf(serials);
    }

}
