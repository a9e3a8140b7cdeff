package dev.fleetpki.core.firmware;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What a firmware signature vouches for, as the JSON a device reads before it upgrades: the
 * image's digest and size, its version, the device model it is for, the anti-rollback values
 * (security counter, lowest version it may replace), the signer and when fleetpki signed it (by
 * its own clock). The bytes are written once, keys in a fixed order, and signed as they are: a
 * verifier checks the signature over exactly those bytes, then reads them.
 *
 * @param digest the image's SHA-256 (32 bytes) or SHA-384 (48 bytes, for a P-384 signer); the JSON
 *     names it {@code sha256} or {@code sha384}
 * @param minimumPreviousVersion the lowest installed version this image may replace, or null for any
 */
public record FirmwareManifest(byte[] digest, long size, String version, String model, long securityCounter, String minimumPreviousVersion,
                               String signer, Instant signedAt) {
    private static final ObjectMapper JSON = new ObjectMapper().disable(SerializationFeature.INDENT_OUTPUT);

    public FirmwareManifest {
        if (digest == null || digest.length != 32 && digest.length != 48) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "a manifest names the image by its SHA-256 (32 bytes) or SHA-384 (48 bytes)");
        }
        if (size <= 0) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the image is empty");
        }
        if (version == null || version.isBlank() || model == null || model.isBlank() || signer == null || signer.isBlank()) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "a manifest needs the image's version, the device model it is for and the signer");
        }
        if (securityCounter < 0) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the security counter is not negative");
        }
        digest = digest.clone();
    }

    @Override
    public byte[] digest() {
        return digest.clone();
    }

    /** {@code sha256} or {@code sha384}: the manifest's key for a digest of this length. */
    static String digestName(byte[] digest) {
        return digest.length == 48 ? "sha384" : "sha256";
    }

    /** The manifest as signed: compact UTF-8 JSON, keys in this order. */
    public byte[] json() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("format", "fleetpki-firmware-manifest/1");
        m.put(digestName(digest), HexFormat.of().formatHex(digest));
        m.put("size", size);
        m.put("version", version);
        m.put("model", model);
        m.put("securityCounter", securityCounter);
        m.put("minimumPreviousVersion", minimumPreviousVersion);
        m.put("signer", signer);
        m.put("signedAt", signedAt.toString());
        try {
            return JSON.writeValueAsString(m).getBytes(StandardCharsets.UTF_8);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
