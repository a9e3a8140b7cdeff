package dev.fleetpki.core;

import java.util.List;

/**
 * The result of re-computing the audit chain.
 *
 * @param events how many rows were checked
 * @param headHash the hash of the newest event (record it elsewhere to anchor the log)
 * @param problems one line per broken link, edited row or missing row; empty when intact
 */
public record AuditVerification(long events, String headHash, List<String> problems) {
    public boolean intact() {
        return problems.isEmpty();
    }
}
