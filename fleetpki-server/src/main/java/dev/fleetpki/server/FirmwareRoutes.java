package dev.fleetpki.server;

import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.FirmwareAuthorization;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.Role;
import dev.fleetpki.core.firmware.FirmwareSigning;
import dev.fleetpki.core.firmware.FirmwareSigning.Format;
import dev.fleetpki.core.firmware.McubootImage;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * {@code POST /api/v1/firmware/signatures}: sign a firmware image with a signer's key, for an
 * operator (admin) or a firmware-signer token bound to the signer and the model. The parameters
 * are query parameters; the body is the image itself ({@code application/octet-stream}, read as
 * it arrives, never held whole), or empty when {@code sha256} (or {@code sha384} for a P-384
 * signer) and {@code size} name an image the
 * client hashed (cms and raw only). MCUboot answers the signed image; cms and raw answer JSON
 * with the manifest and the signature, base64.
 */
final class FirmwareRoutes {
    /** The largest image accepted: a flash image, not a file store. */
    static final long MAX_IMAGE = 256L * 1024 * 1024;

    private final Services s;
    private final ApiAuth auth;
    private final FirmwareSigning signing;

    FirmwareRoutes(Services s, ApiAuth auth) {
        this.s = s;
        this.auth = auth;
        this.signing = s.firmware();
    }

    void register(RoutesConfig app) {
        app.post("/api/v1/firmware/signatures", this::sign);
    }

    private void sign(Context ctx) throws IOException {
        ApiAuth.Caller caller = auth.require(ctx, Role.FIRMWARE_SIGNER);
        String digest = ctx.queryParam("sha256") != null ? ctx.queryParam("sha256") : ctx.queryParam("sha384");
        Format format = Format.parse(required(ctx, "format"));
        FirmwareSigning.Request req = new FirmwareSigning.Request(required(ctx, "signer"), required(ctx, "model"), required(ctx, "version"), format,
                number(ctx, "securityCounter"), ctx.queryParam("minimumPreviousVersion"),
                McubootImage.parseHeaderSize(Objects.requireNonNullElse(ctx.queryParam("headerSize"), "0x200"), "headerSize"),
                "true".equals(ctx.queryParam("padHeader")),
                "rest");
        FirmwareAuthorization.Caller who = caller.token() == null ? FirmwareAuthorization.Caller.operator(caller.actor())
                : FirmwareAuthorization.Caller.of(caller.token());
        FirmwareAuthorization a = s.authorizer().firmware(who, signing.signer(req.signer()), req.model(), "rest");
        long length = ctx.req().getContentLengthLong();
        if (digest != null) {
            if (length > 0) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "with a digest the image stays with the client: send no body");
            }
            Long size = number(ctx, "size");
            if (size == null) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "with a digest, name the image's size in bytes: size=N");
            }
            byte[] bytes;
            try {
                bytes = HexFormat.of().parseHex(digest);
            } catch (IllegalArgumentException e) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the digest is hex: 64 digits for sha256, 96 for sha384");
            }
            answer(ctx, signing.signDigest(a, req, bytes, size), null);
            return;
        }
        if (length < 0) {
            throw new HttpProblem(411, "length-required", "Length required", "send the image with a Content-Length (not chunked)");
        }
        if (length > MAX_IMAGE) {
            throw new HttpProblem(413, "too-large", "Image too large", "the image is " + length + " bytes; at most " + MAX_IMAGE + " are signed here");
        }
        String type = String.valueOf(ctx.contentType());
        if (!type.startsWith("application/octet-stream")) {
            throw new HttpProblem(415, "unsupported-media-type", "Unsupported media type",
                    "send the image as Content-Type: application/octet-stream, or sha256 and size for a digest");
        }
        Path spool = format == Format.MCUBOOT ? Files.createTempFile("fleetpki-firmware-", ".bin") : null;
        try {
            FirmwareSigning.Signed signed;
            try (InputStream in = ctx.req().getInputStream(); OutputStream out = spool == null ? OutputStream.nullOutputStream() : Files.newOutputStream(spool)) {
                signed = signing.sign(a, req, in, length, out);
            }
            answer(ctx, signed, spool);
        } finally {
            if (spool != null) {
                Files.deleteIfExists(spool);
            }
        }
    }

    /** MCUboot: the signed image (spooled to a file, so nothing is sent before the signature is made and audited); else JSON. */
    private static void answer(Context ctx, FirmwareSigning.Signed signed, Path image) throws IOException {
        ctx.status(201);
        ctx.header("X-Fleetpki-Digest", signed.digestAlgorithm() + "=" + signed.digestHex());
        ctx.header("X-Fleetpki-Signer-Certificate", signed.certificateSerial());
        if (image != null) {
            ctx.contentType("application/octet-stream");
            ctx.header("Content-Length", Long.toString(Files.size(image)));
            try (InputStream in = Files.newInputStream(image); OutputStream out = ctx.res().getOutputStream()) {
                in.transferTo(out);
            }
            return;
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("format", signed.format().configName());
        m.put("signer", signed.signer());
        m.put("certificate", signed.certificateSerial());
        m.put(signed.digestAlgorithm(), signed.digestHex());
        m.put("size", signed.size());
        m.put("signedAt", signed.signedAt().toString());
        m.put("digestOnly", signed.digestOnly());
        m.put("manifest", Base64.getEncoder().encodeToString(signed.manifest()));
        m.put("signature", Base64.getEncoder().encodeToString(signed.signature()));
        ctx.json(m);
    }

    private static String required(Context ctx, String name) {
        String v = ctx.queryParam(name);
        if (v == null || v.isBlank()) {
            throw new HttpProblem(400, "bad-parameter", "Missing parameter", "add the query parameter " + name
                    + " (signer, model, version and format are required)");
        }
        return v;
    }

    private static Long number(Context ctx, String name) {
        String v = ctx.queryParam(name);
        try {
            return v == null ? null : Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw new HttpProblem(400, "bad-parameter", "Bad parameter", name + " must be a number, not '" + v + "'");
        }
    }
}
