package dev.fleetpki.core.store;

import dev.fleetpki.core.ApiToken;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.EnrollmentSecret;
import dev.fleetpki.core.ManufacturerCa;
import dev.fleetpki.core.Station;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/** What authenticates a caller: factory stations, one-time secrets, manufacturer CAs and API tokens. */
public interface CredentialStore {
    /** Registers a station; with a certificate fingerprint it may enroll over the network. */
    void addStation(Station st, AuditEvent event);

    Optional<Station> stationByCertificate(String certSha256);

    /** Sets a station's status (active, disabled); NOT_FOUND when there is none of that name. */
    void setStationStatus(String name, String status, AuditEvent event);

    Optional<Station> station(String name);

    List<Station> stations();

    /** Stores a device's one-time secret (only its hash), replacing its unused one. */
    void addEnrollmentSecret(EnrollmentSecret e, AuditEvent event);

    Optional<EnrollmentSecret> enrollmentSecret(String id);

    /** The device's newest one-time secret, used or not (CMP finds the secret its MAC is keyed with by the device id). */
    Optional<EnrollmentSecret> newestEnrollmentSecret(String deviceId);

    void addManufacturer(ManufacturerCa m, AuditEvent event);

    List<ManufacturerCa> manufacturers();

    void removeManufacturer(String name, AuditEvent event);

    void addToken(ApiToken t, AuditEvent event);

    Optional<ApiToken> token(String id);

    /** The operator credential bound to a client certificate with this SHA-256. */
    Optional<ApiToken> tokenByCertificate(String certSha256);

    List<ApiToken> tokens();

    /** Revokes the token of this name. */
    void revokeToken(String name, Instant at, AuditEvent event);

    /** Disables (at != null) or enables (null) the unrevoked token of this name; doing it twice is fine. */
    void setTokenDisabled(String name, Instant at, AuditEvent event);
}
