package dev.fleetpki.core;

import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * One entry of the hash-chained audit log: who did what to which object, when. The store adds
 * the sequence number and the chain hash.
 *
 * @param action what was done (its wire name, {@code certificate.issue}, is what the log stores)
 * @param target what it was done to: {@code device:sensor-42}, {@code serial:5f...}
 * @param detail further facts (never secrets), kept sorted so the hash input is canonical
 */
public record AuditEvent(Instant at, Actor actor, AuditAction action, String target, Map<String, String> detail) {
    public AuditEvent {
        detail = detail == null ? Map.of() : Collections.unmodifiableMap(new TreeMap<>(detail));
    }

    /**
     * A refused issuance, as every refusal is recorded: its kind and reason, the profile and
     * protocol asked for, and the kind of credential that asked when one is known (else null).
     */
    public static AuditEvent refusal(Instant at, Actor actor, String target, PkiException e, String profile, String protocol, String credential) {
        Map<String, String> detail = new LinkedHashMap<>();
        detail.put("kind", e.kind().name());
        detail.put("reason", e.detail());
        detail.put("profile", String.valueOf(profile));
        detail.put("protocol", protocol);
        if (credential != null) {
            detail.put("credential", credential);
        }
        return new AuditEvent(at, actor, AuditAction.CERTIFICATE_REFUSE, target, detail);
    }

    /** A refused firmware signature, as both the authorizer and the signing use case record it: kind, reason, model, protocol. */
    public static AuditEvent firmwareRefusal(Instant at, Actor actor, String signer, PkiException e, String model, String protocol) {
        Map<String, String> detail = new LinkedHashMap<>();
        detail.put("kind", e.kind().name());
        detail.put("reason", e.detail());
        detail.put("model", String.valueOf(model));
        detail.put("protocol", protocol);
        return new AuditEvent(at, actor, AuditAction.FIRMWARE_REFUSE, "signer:" + signer, detail);
    }
}
