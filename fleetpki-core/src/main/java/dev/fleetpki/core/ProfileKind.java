package dev.fleetpki.core;

import java.time.Duration;
import java.util.List;
import java.util.Locale;
import org.bouncycastle.asn1.x509.KeyPurposeId;

/**
 * The kinds of certificate fleetpki issues. Each fixes the extensions that make the certificate
 * what it is (RFC 5280 4.2.1.3 key usage, 4.2.1.9 basic constraints, 4.2.1.12 extended key usage)
 * and the longest validity a profile of that kind may set.
 */
public enum ProfileKind {
    /** A device's TLS client certificate. */
    DEVICE("device", List.of(KeyPurposeId.id_kp_clientAuth), Duration.ofDays(365), Duration.ofDays(365 * 20), true),
    /** Device-to-device mutual TLS: client and server. */
    DEVICE_PEER("device-peer", List.of(KeyPurposeId.id_kp_clientAuth, KeyPurposeId.id_kp_serverAuth),
            Duration.ofDays(365), Duration.ofDays(365 * 20), true),
    /** A TLS server (broker, API) with DNS and IP subject alternative names. */
    SERVER_TLS("server-tls", List.of(KeyPurposeId.id_kp_serverAuth), Duration.ofDays(90), Duration.ofDays(398), true),
    /** Firmware and code signing. */
    CODE_SIGNING("code-signing", List.of(KeyPurposeId.id_kp_codeSigning), Duration.ofDays(365), Duration.ofDays(365 * 3), true),
    /** A delegated OCSP responder (RFC 6960 4.2.2.2), with id-pkix-ocsp-nocheck. */
    OCSP_SIGNING("ocsp-signing", List.of(KeyPurposeId.id_kp_OCSPSigning), Duration.ofDays(30), Duration.ofDays(90), false),
    /**
     * The SCEP registration authority's certificate (RFC 8894 2.2): an RSA key that SCEP clients
     * encrypt their requests to (keyEncipherment) and that signs the answers (digitalSignature); no
     * extended key usage, since clients check none and some check that a present one allows signing.
     * Made by the server for its issuing CA, never requested.
     */
    SCEP_RA("scep-ra", List.of(), Duration.ofDays(365), Duration.ofDays(365 * 2), false),
    /** A subordinate CA (basicConstraints critical, CA true). */
    SUB_CA("sub-ca", List.of(), Duration.ofDays(365 * 5), Duration.ofDays(365 * 20), false),
    /**
     * A verification certificate whose CN is a registration code, proving possession of the CA key
     * to Azure IoT Hub / DPS or AWS IoT.
     */
    CLOUD_VERIFICATION("cloud-verification", List.of(KeyPurposeId.id_kp_clientAuth), Duration.ofDays(1), Duration.ofDays(30), false);

    private final String configName;
    private final List<KeyPurposeId> ekus;
    private final Duration defaultValidity;
    private final Duration maxValidity;
    private final boolean forDevice;

    ProfileKind(String configName, List<KeyPurposeId> ekus, Duration defaultValidity, Duration maxValidity, boolean forDevice) {
        this.configName = configName;
        this.ekus = ekus;
        this.defaultValidity = defaultValidity;
        this.maxValidity = maxValidity;
        this.forDevice = forDevice;
    }

    public String configName() {
        return configName;
    }

    public List<KeyPurposeId> extendedKeyUsages() {
        return ekus;
    }

    public Duration defaultValidity() {
        return defaultValidity;
    }

    public Duration maxValidity() {
        return maxValidity;
    }

    /** Whether certificates of this kind are issued to a registered device. */
    public boolean forDevice() {
        return forDevice;
    }

    public boolean isCa() {
        return this == SUB_CA;
    }

    public static ProfileKind parse(String s) {
        String n = s == null ? "" : s.trim().toLowerCase(Locale.ROOT);
        for (ProfileKind k : values()) {
            if (k.configName.equals(n)) {
                return k;
            }
        }
        throw new IllegalArgumentException("unknown profile kind '" + s + "'; use one of device, device-peer, "
                + "server-tls, code-signing, ocsp-signing, scep-ra, sub-ca, cloud-verification");
    }
}
