package dev.fleetpki.core;

import dev.fleetpki.kms.KeyAlgorithm;
import java.time.Duration;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * A certificate profile: everything about a certificate's content that is not the subject's key
 * and (checked) names. Built only by {@link ProfileLoader}, which refuses unsafe settings.
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

    public Profile {
        keyAlgorithms = Set.copyOf(keyAlgorithms);
        dnsSuffixes = List.copyOf(dnsSuffixes);
        ipRanges = List.copyOf(ipRanges);
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
