package dev.fleetpki.core;

import java.time.Instant;
import java.util.Map;
import java.util.TreeMap;

/**
 * One entry of the hash-chained audit log: who did what to which object, when. The store adds
 * the sequence number and the chain hash.
 *
 * @param action e.g. {@code certificate.issue}, {@code certificate.refuse}, {@code certificate.revoke}, {@code device.add}, {@code ca.create}
 * @param target what it was done to: {@code device:sensor-42}, {@code serial:5f...}
 * @param detail further facts (never secrets), kept sorted so the hash input is canonical
 */
public record AuditEvent(Instant at, Actor actor, String action, String target, Map<String, String> detail) {
    public AuditEvent {
        detail = detail == null ? Map.of() : java.util.Collections.unmodifiableMap(new TreeMap<>(detail));
    }
}
