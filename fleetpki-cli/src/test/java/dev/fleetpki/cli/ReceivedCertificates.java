package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.Map;

/** The check every load-under-fault test ends with: each certificate a client received is in the store, with its issuance event. */
public final class ReceivedCertificates {
    private ReceivedCertificates() {}

    /** @param received serial (hex) to the device it was issued to, as the clients saw them */
    public static void assertStoredWithAudit(Connection c, Map<String, String> received) throws Exception {
        try (PreparedStatement cert = c.prepareStatement("SELECT device_id FROM certificate WHERE serial = ?");
             PreparedStatement audit = c.prepareStatement("SELECT count(*) FROM audit_event WHERE action = 'certificate.issue' AND target = ? "
                     + "AND detail LIKE ?")) {
            for (var e : received.entrySet()) {
                cert.setString(1, e.getKey());
                try (ResultSet rs = cert.executeQuery()) {
                    assertThat(rs.next()).as("certificate " + e.getKey() + " a client received is stored").isTrue();
                    assertThat(rs.getString(1)).isEqualTo(e.getValue());
                }
                audit.setString(1, "device:" + e.getValue());
                audit.setString(2, "%\"" + e.getKey() + "\"%");
                try (ResultSet rs = audit.executeQuery()) {
                    rs.next();
                    assertThat(rs.getInt(1)).as("the issuance event of " + e.getKey()).isEqualTo(1);
                }
            }
        }
    }
}
