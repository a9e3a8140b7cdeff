package dev.fleetpki.core;

/**
 * A factory station.
 *
 * @param certSha256 SHA-256 (hex) of the client certificate it authenticates with, or null (CLI use only)
 * @param fleet the device model it may enroll, {@code *} for every model, or null (stations
 *     registered before fleets were required): none
 */
public record Station(String name, String status, String certSha256, String fleet) {
    public boolean active() {
        return "ACTIVE".equals(status);
    }
}
