package dev.fleetpki.core;

/**
 * A factory station.
 *
 * @param certSha256 SHA-256 (hex) of the client certificate it authenticates with, or null (CLI use only)
 * @param fleet the device model it may enroll, or null for any
 */
public record Station(String name, String status, String certSha256, String fleet) {
    public boolean active() {
        return "ACTIVE".equals(status);
    }

    /** Whether this station may enroll a device of this model. */
    public boolean covers(String model) {
        return fleet == null || fleet.equals(model);
    }
}
