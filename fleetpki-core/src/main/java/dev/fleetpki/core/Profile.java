package dev.fleetpki.core;

import dev.fleetpki.kms.KeyAlgorithm;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * A certificate profile: everything about a certificate's content that is not the subject's key
 * and (checked) names. A profile checks itself ({@link #problems}): code that builds one directly
 * gets the same refusals as the configuration file, whose loader reports them with their paths.
 *
 * @param name the name requests use ({@code --profile device})
 * @param kind what the certificate is for
 * @param validity how long certificates live
 * @param backdate how far notBefore is set before now, for devices with a drifting clock
 * @param subject where the device id goes: {@code cn} or {@code uri-san}
 * @param uriTemplate URI SAN template; {@code {id}} is the device id
 * @param organization optional O= in the subject
 * @param keyAlgorithms subject key algorithms accepted
 * @param maxDerSize DER size budget in bytes (microcontroller parsers have small buffers)
 * @param issuer name of the CA that signs, or null for the default issuing CA
 * @param dnsSuffixes DNS SANs a server-TLS certificate may carry must end with one of these; with
 *     none configured, only an operator may obtain server-TLS DNS names
 * @param ipRanges IP SANs a server-TLS certificate may carry must lie in one of these; with none
 *     configured, only an operator may obtain server-TLS IP addresses
 * @param pathLength for sub-CA: the pathLenConstraint
 * @param renewWithSameKey whether a renewal may keep the current certificate's key (default: a renewal must bring a new key)
 */
public record Profile(String name, ProfileKind kind, Duration validity, Duration backdate, SubjectSource subject,
                      String uriTemplate, String organization, Set<KeyAlgorithm> keyAlgorithms, int maxDerSize,
                      String issuer, List<String> dnsSuffixes, List<IpRange> ipRanges, int pathLength, boolean renewWithSameKey) {

    /** Where the device id is written in the certificate. */
    public enum SubjectSource { CN, URI_SAN }

    public static final Set<KeyAlgorithm> DEFAULT_KEY_ALGORITHMS = Set.copyOf(EnumSet.of(KeyAlgorithm.EC_P256, KeyAlgorithm.EC_P384,
            KeyAlgorithm.ED25519, KeyAlgorithm.RSA_2048, KeyAlgorithm.RSA_3072, KeyAlgorithm.RSA_4096, KeyAlgorithm.ML_DSA_65));

    /** The largest DER size budget a profile may set, and the smallest (no useful certificate is smaller). */
    public static final int MAX_DER_SIZE = 65536;
    public static final int MIN_DER_SIZE = 300;
    /** The shortest validity: less cannot outlast the clock skew and the backdate of the devices it is for. */
    public static final Duration MIN_VALIDITY = Duration.ofMinutes(5);
    /** The most notBefore may be set before now. */
    public static final Duration MAX_BACKDATE = Duration.ofDays(1);

    public Profile {
        keyAlgorithms = Set.copyOf(keyAlgorithms);
        dnsSuffixes = List.copyOf(dnsSuffixes);
        ipRanges = List.copyOf(ipRanges);
        List<String> problems = problems(kind, validity, backdate, uriTemplate, keyAlgorithms, maxDerSize, pathLength);
        if (!problems.isEmpty()) {
            throw new PkiException(ErrorKind.CONFIG, "profile '" + name + "': " + String.join("; ", problems));
        }
    }

    /**
     * What is wrong with these settings, each as "field: why" (empty: nothing). The configuration
     * loader reports these with the profile's path; the constructor refuses a profile that has any.
     */
    public static List<String> problems(ProfileKind kind, Duration validity, Duration backdate, String uriTemplate, Set<KeyAlgorithm> keyAlgorithms,
                                        int maxDerSize, int pathLength) {
        List<String> out = new ArrayList<>();
        // The longest validity per kind (ProfileKind.maxValidity): CA/Browser Forum Baseline Requirements 6.3.2 for server-tls
        // (398 days); RFC 6960 4.2.2.2 leaves a delegated OCSP signer's life to policy and we keep it short (90 days) because it
        // carries id-pkix-ocsp-nocheck and cannot itself be revoked; the others are fleet policy.
        if (validity.compareTo(kind.maxValidity()) > 0) {
            out.add("validity: " + Durations.format(validity) + " is too long for a " + kind.configName()
                    + " certificate; the most allowed is " + Durations.format(kind.maxValidity()));
        }
        if (validity.compareTo(MIN_VALIDITY) < 0) {
            out.add("validity: " + Durations.format(validity) + " is too short; at least " + Durations.format(MIN_VALIDITY));
        }
        // Backdating covers device clocks that run behind; more than a day would hide when a certificate was really issued
        // (the Baseline Requirements 7.1.2.7 allow at most 48 hours for the same reason).
        if (backdate.isNegative() || backdate.compareTo(MAX_BACKDATE) > 0) {
            out.add("backdate: " + Durations.format(backdate) + " is not within 0.." + Durations.format(MAX_BACKDATE)
                    + "; backdating hides mis-issuance");
        }
        if (!uriTemplate.contains("{id}")) {
            out.add("uriTemplate: '" + uriTemplate + "' must contain {id}");
        }
        if (!uriTemplate.matches("[A-Za-z][A-Za-z0-9+.-]*:.*")) { // RFC 5280 4.2.1.6: a URI SAN is an absolute URI, with a scheme
            out.add("uriTemplate: '" + uriTemplate + "' has no scheme; a URI subjectAltName must be absolute (RFC 5280 4.2.1.6), "
                    + "e.g. urn:acme:device:{id} or https://devices.acme.example/{id}");
        }
        if (keyAlgorithms.isEmpty()) {
            out.add("keyAlgorithms: empty; the profile would refuse every key");
        }
        // A size budget exists for microcontroller TLS stacks with small buffers (Mbed TLS, wolfSSL); 64 KiB is the
        // most a TLS 1.2/1.3 certificate list entry can carry in practice (RFC 8446 4.4.2: 2^24-1 for the whole list).
        if (maxDerSize < MIN_DER_SIZE || maxDerSize > MAX_DER_SIZE) {
            out.add("maxDerSize: " + maxDerSize + " is outside " + MIN_DER_SIZE + ".." + MAX_DER_SIZE + " bytes");
        }
        // RFC 5280 4.2.1.9: pathLenConstraint; fleet hierarchies are shallow, three levels below is already unusual.
        if (pathLength < 0 || pathLength > 3) {
            out.add("pathLength: " + pathLength + " is outside 0..3");
        }
        return out;
    }

    /** Whether certificates of this profile are for a device's own use (device, device-peer): what device credentials may obtain. */
    public boolean deviceSide() {
        return kind == ProfileKind.DEVICE || kind == ProfileKind.DEVICE_PEER;
    }

    /**
     * The key algorithm this profile prefers (what EST csrattrs names and server key generation
     * makes): the first of {@link KeyAlgorithm}'s order the profile accepts.
     */
    public KeyAlgorithm preferredKeyAlgorithm() {
        return Arrays.stream(KeyAlgorithm.values()).filter(keyAlgorithms::contains).findFirst().orElse(KeyAlgorithm.EC_P256);
    }

    /** The URI SAN for a device, from the template. */
    public String uriFor(String deviceId) {
        return uriTemplate.replace("{id}", deviceId);
    }
}
