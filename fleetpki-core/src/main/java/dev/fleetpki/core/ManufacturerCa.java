package dev.fleetpki.core;

import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.Locale;

/**
 * A device manufacturer's CA the operator trusts for IDevID enrollment, and which field of an
 * IDevID certificate names the device.
 *
 * @param fingerprint SHA-256 of the CA certificate's DER, hex
 * @param fleet the device model its IDevIDs may enroll, {@code *} for every model, or null (CAs
 *     trusted before fleets were required): none
 */
public record ManufacturerCa(String name, X509Certificate certificate, String fingerprint, MapBy mapBy, Instant createdAt, Actor createdBy,
                             String fleet) {

    /** Where the registered device id is in a manufacturer certificate's subject. */
    public enum MapBy {
        /** The subject's common name. */
        CN,
        /** The subject's serialNumber attribute (2.5.4.5), as IEEE 802.1AR IDevIDs carry it. */
        SERIAL_NUMBER;

        public String configName() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }

        public static MapBy parse(String s) {
            for (MapBy m : values()) {
                if (m.configName().equals(s)) {
                    return m;
                }
            }
            throw new IllegalArgumentException("'" + s + "' is not a mapping; use cn or serial-number");
        }
    }
}
