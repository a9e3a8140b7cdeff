package dev.fleetpki.core.store;

import dev.fleetpki.core.Actor;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.Device;
import dev.fleetpki.core.RevocationReason;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/** Registered devices. */
public interface DeviceStore {
    /** The device as stored now (no cache). */
    Optional<Device> deviceNow(String id);

    /** The first {@code limit} devices in id order. */
    List<Device> devices(int limit);

    /**
     * A page of devices in id order (keyset paging: pass the last id of the previous page).
     *
     * @param after only ids after this one, or null
     * @param status only this status, or null
     * @param model only this model, or null
     */
    default List<Device> devices(String after, Device.Status status, String model, int limit) {
        return devices(after, null, status, model, limit);
    }

    /** As {@link #devices(String, Device.Status, String, int)}, only ids starting with {@code prefix} (null: any). */
    List<Device> devices(String after, String prefix, Device.Status status, String model, int limit);

    /** How many devices are in each status (statuses with none left out). */
    java.util.Map<Device.Status, Long> deviceCounts();

    /** Registers a device; CONFLICT when the id exists. */
    void addDevice(Device d, AuditEvent event);

    /**
     * Registers many devices, with one-time secrets for some, and their audit events, in one
     * transaction; CONFLICT (nothing stored) if any id is registered meanwhile.
     */
    void addDevices(List<Device> devices, List<dev.fleetpki.core.EnrollmentSecret> secrets, List<AuditEvent> events);

    /** Disables or enables a device (doing it twice is fine); a revoked device stays revoked: CONFLICT. */
    void setDeviceStatus(String id, Device.Status status, AuditEvent event);

    /** Marks a device revoked and revokes its unrevoked certificates in one transaction; returns the serials revoked. */
    List<String> revokeDevice(String id, RevocationReason reason, Instant at, Actor actor);
}
