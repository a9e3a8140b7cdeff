package dev.fleetpki.core;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

/** The slice of the central store {@link StationSync} needs. */
public interface StationSyncStore {
    /** What was taken from a station CA's journal by the last sync: its entry count and the hash of the last entry. */
    record SyncState(String ca, String station, String caCertSha256, long entries, String headHash, Instant syncedAt) {}

    Optional<SyncState> syncState(String ca);

    /**
     * Stores a sync in one transaction: the station CA (when new here), the devices it registers,
     * the certificates it takes with their audit events, and the new sync state, which must
     * follow {@code previousEntries} (the count the sync read; 0: none): if another sync of this CA
     * committed meanwhile, nothing is stored (CONFLICT).
     */
    void commitSync(CaRecord newCa, List<Device> newDevices, List<IssuedCertificate> certificates, List<AuditEvent> events, SyncState state,
                    long previousEntries);
}
