package dev.fleetpki.core.firmware;

import dev.fleetpki.core.AuditAction;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.CaRecord;
import dev.fleetpki.core.CaRegistry;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.FirmwareAuthorization;
import dev.fleetpki.core.IssuanceLedger;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.StoredCertificate;
import dev.fleetpki.core.config.CaRole;
import dev.fleetpki.core.store.CertificateStore;
import dev.fleetpki.core.store.SignerStore;
import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.KeyManager;
import dev.fleetpki.kms.KeyRef;
import dev.fleetpki.kms.KeyStoreFailure;
import dev.fleetpki.kms.SecretSource;
import dev.fleetpki.kms.SigningKey;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The one firmware signing use case every path calls (CLI, REST): given a
 * {@link FirmwareAuthorization} from the {@code EnrollmentAuthorizer}, it checks the request is
 * the authorized one, that the signer is still active and its current certificate valid now,
 * opens the signer's key (file or PKCS#11; the key never leaves it), signs in the asked format,
 * and records one audit event with the signer, the model and the digest. Refusals are audited too.
 */
public final class FirmwareSigning {
    /** The three output formats (docs/firmware.md). */
    public enum Format {
        /** An MCUboot signed image: header, image, TLVs with SHA-256, key hash and signature. */
        MCUBOOT,
        /** A JSON manifest and its detached CMS signature (RFC 5652) carrying the signer's chain. */
        CMS,
        /** A JSON manifest with a plain ECDSA signature and the signer's chain, for Mbed TLS. */
        RAW;

        public String configName() {
            return name().toLowerCase(Locale.ROOT);
        }

        public static Format parse(String text) {
            for (Format f : values()) {
                if (f.configName().equals(text)) {
                    return f;
                }
            }
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "'" + text + "' is not a firmware signature format; use mcuboot, cms or raw");
        }
    }

    /**
     * What to sign.
     *
     * @param version major.minor.revision(+build), the order anti-rollback compares
     * @param securityCounter the anti-rollback counter (MCUboot's protected TLV; the manifest's), or null (manifest: 0)
     * @param minimumPreviousVersion the lowest installed version this image may replace, or null for any
     * @param headerSize MCUboot only: where the image starts (0x200 for Zephyr)
     * @param padHeader MCUboot only: the input has no header space, so the header is put before it
     *     (imgtool's --pad-header); otherwise its first {@code headerSize} bytes are the space the
     *     build reserved (zeros, as Zephyr's CONFIG_ROM_START_OFFSET leaves them) and the header replaces them
     * @param protocol the adapter, for the audit record: cli, rest
     */
    public record Request(String signer, String model, String version, Format format, Long securityCounter, String minimumPreviousVersion,
                          int headerSize, boolean padHeader, String protocol) {
        public Request {
            if (signer == null || model == null || version == null || format == null) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "a firmware signature names the signer, the device model, the version and the format");
            }
            McubootImage.Version.parse(version); // one version syntax for every format: it is what devices compare
            if (minimumPreviousVersion != null) {
                McubootImage.Version.parse(minimumPreviousVersion);
            }
            if (securityCounter != null && (securityCounter < 0 || securityCounter > 0xFFFFFFFFL)) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the security counter is a 32-bit unsigned number; got " + securityCounter);
            }
        }
    }

    /**
     * What was signed.
     *
     * @param digest the digest the audit record names: of the image (cms, raw; SHA-384 for a P-384
     *     signer, else SHA-256), of header, image and protected TLVs as MCUboot checks it (mcuboot, SHA-256)
     * @param manifest the signed JSON manifest (cms, raw), or null (mcuboot: the image itself is written)
     * @param signature the detached CMS signature (cms) or the raw signature file (raw), or null
     */
    public record Signed(Format format, byte[] digest, long size, byte[] manifest, byte[] signature, String signer, String certificateSerial,
                         Instant signedAt, boolean digestOnly) {
        public String digestHex() {
            return HexFormat.of().formatHex(digest);
        }

        /** {@code sha256} or {@code sha384}, as the manifest and the audit record name it. */
        public String digestAlgorithm() {
            return FirmwareManifest.digestName(digest);
        }
    }

    private final SignerStore signers;
    private final CertificateStore certificates;
    private final CaRegistry cas;
    private final KeyManager keys;
    private final SecretSource passphrase;
    private final IssuanceLedger ledger;
    private final Clock clock;
    /**
     * Signer keys opened once and kept (a handle; the key stays in its file or token), by reference:
     * opening an encrypted file key costs its key derivation (about half a second), a token key a
     * login. A rotated signer has a new reference, so its new key is opened; a key replaced outside
     * fleetpki under the same reference keeps the old handle, whose key the certificate still names.
     */
    private final Map<String, SigningKey> opened = new ConcurrentHashMap<>();

    /** @param passphrase opens signers' file keys (the fleet passphrase, as for CA key files) */
    public FirmwareSigning(SignerStore signers, CertificateStore certificates, CaRegistry cas, KeyManager keys, SecretSource passphrase,
                           IssuanceLedger ledger, Clock clock) {
        this.signers = signers;
        this.certificates = certificates;
        this.cas = cas;
        this.keys = keys;
        this.passphrase = passphrase;
        this.ledger = ledger;
        this.clock = clock;
    }

    /** The signer of this name, for the authorizer to decide on. */
    public Signer signer(String name) {
        Signer.checkName(name);
        return signers.signer(name).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND, "no signer named '" + name
                + "'; list them with: fleetpki signer list"));
    }

    /**
     * Signs an image of {@code size} bytes read from {@code image}, in one pass. For MCUboot the
     * signed image is written to {@code signedImage} (write it to a temporary file and keep it only
     * when this returns: a refusal can come after bytes were written); the other formats write nothing there.
     */
    public Signed sign(FirmwareAuthorization auth, Request req, InputStream image, long size, OutputStream signedImage) {
        return audited(auth, req, () -> {
            Ready r = ready(auth, req);
            try {
                if (req.format() == Format.MCUBOOT) {
                    long body = size;
                    if (!req.padHeader()) {
                        skipReservedHeader(image, size, req.headerSize());
                        body = size - req.headerSize();
                    }
                    byte[] digest = McubootImage.sign(image, body, McubootImage.Version.parse(req.version()), req.headerSize(), req.securityCounter(),
                            r.key(), signedImage);
                    return new Signed(Format.MCUBOOT, digest, size, null, null, r.signer().name(), r.certificate().issued().serialHex(), r.now(), false);
                }
                MessageDigest md = digestFor(r.key());
                Streams.copy(image, size, md, null);
                return manifestSignature(r, req, md.digest(), size, false);
            } catch (IOException e) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "reading the image failed: " + e.getMessage(), e);
            }
        });
    }

    /**
     * Signs a manifest for an image the caller hashed (cms and raw only): the image itself never
     * reaches the CA, and the audit record says so ({@code digestOnly}).
     */
    public Signed signDigest(FirmwareAuthorization auth, Request req, byte[] digest, long size) {
        return audited(auth, req, () -> {
            if (req.format() == Format.MCUBOOT) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "an MCUboot image carries its header and signature around the image, "
                        + "so the CA needs the image itself; send it, or use --format cms or raw for a digest");
            }
            if (size <= 0) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the image size is a positive number of bytes");
            }
            Ready r = ready(auth, req);
            int want = digestFor(r.key()).getDigestLength();
            if (digest == null || digest.length != want) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "signer '" + r.signer().name() + "' names images by their "
                        + (want == 48 ? "SHA-384 (its key is P-384): 96 hex digits, sha384=" : "SHA-256: 64 hex digits, sha256="));
            }
            return manifestSignature(r, req, digest, size, true);
        });
    }

    /** The image digest a manifest signed by this key carries: SHA-384 for a P-384 key (as its signature uses), else SHA-256. */
    public static MessageDigest digestFor(SigningKey key) {
        try {
            return MessageDigest.getInstance(key.algorithm() == KeyAlgorithm.EC_P384 ? "SHA-384" : "SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Reads the header space a build reserved at the image's start, which must be zeros (imgtool refuses anything else too). */
    private static void skipReservedHeader(InputStream image, long size, int headerSize) throws IOException {
        if (size <= headerSize) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the image is " + size + " bytes, no more than its " + headerSize
                    + "-byte header space; is --header-size right?");
        }
        byte[] reserved = image.readNBytes(headerSize);
        if (reserved.length < headerSize) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the image ended inside its header space");
        }
        for (byte b : reserved) {
            if (b != 0) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the image does not start with " + headerSize + " zero bytes of header space "
                        + "(Zephyr reserves them with CONFIG_ROM_START_OFFSET); if it has no header space, add --pad-header; if it is "
                        + "already an MCUboot image, sign the unsigned one");
            }
        }
    }

    private interface Work {
        Signed run();
    }

    private Signed audited(FirmwareAuthorization auth, Request req, Work work) {
        try {
            if (!auth.signer().name().equals(req.signer()) || !auth.model().equals(req.model())) {
                throw new PkiException(ErrorKind.NOT_AUTHORIZED, "this authorization is for signer '" + auth.signer().name() + "' and model '"
                        + auth.model() + "', not '" + req.signer() + "' and '" + req.model() + "'");
            }
            Signed s = work.run();
            Map<String, String> detail = new LinkedHashMap<>();
            detail.put("signer", s.signer());
            detail.put("certificate", s.certificateSerial());
            detail.put("model", req.model());
            detail.put("version", req.version());
            detail.put("format", s.format().configName());
            detail.put(s.digestAlgorithm(), s.digestHex());
            detail.put("size", Long.toString(s.size()));
            detail.put("digestOnly", Boolean.toString(s.digestOnly()));
            detail.put("protocol", req.protocol());
            if (req.securityCounter() != null) {
                detail.put("securityCounter", req.securityCounter().toString());
            }
            ledger.audit(new AuditEvent(s.signedAt(), auth.actor(), AuditAction.FIRMWARE_SIGN, "signer:" + s.signer(), detail));
            return s;
        } catch (PkiException e) {
            ledger.audit(AuditEvent.firmwareRefusal(clock.instant(), auth.actor(), req.signer(), e, req.model(), req.protocol()));
            throw e;
        }
    }

    /** The signer as it is now, its current certificate, the chain above it and its opened key. */
    private record Ready(Signer signer, StoredCertificate certificate, List<X509Certificate> chain, SigningKey key, Instant now) {}

    private Ready ready(FirmwareAuthorization auth, Request req) {
        Instant now = clock.instant().truncatedTo(ChronoUnit.SECONDS); // as CMS signing time and the manifest carry it
        Signer signer = signer(req.signer());
        if (!signer.active()) {
            throw new PkiException(ErrorKind.NOT_AUTHORIZED, "signer '" + signer.name() + "' was revoked at " + signer.revokedAt() + "; it signs nothing any more");
        }
        if (!signer.covers(req.model())) { // its models cannot change, but the check is cheap and says what is wrong
            throw new PkiException(ErrorKind.NOT_AUTHORIZED, "signer '" + signer.name() + "' signs firmware for " + signer.modelList() + ", not '" + req.model() + "'");
        }
        StoredCertificate cert = certificates.certificate(signer.serial()).orElseThrow(() -> new PkiException(ErrorKind.INTERNAL,
                "signer '" + signer.name() + "''s certificate " + signer.serial() + " is not in the store"));
        if (cert.revoked()) {
            throw new PkiException(ErrorKind.NOT_AUTHORIZED, "signer '" + signer.name() + "''s certificate " + cert.issued().serialHex()
                    + " was revoked at " + cert.revokedAt() + "; give the signer a new key and certificate: fleetpki signer rotate " + signer.name());
        }
        if (now.isAfter(cert.issued().notAfter()) || now.isBefore(cert.issued().notBefore())) {
            throw new PkiException(ErrorKind.NOT_AUTHORIZED, "signer '" + signer.name() + "''s certificate " + cert.issued().serialHex()
                    + " is valid " + cert.issued().notBefore() + " to " + cert.issued().notAfter() + ", not now; give the signer a new certificate: fleetpki signer rotate " + signer.name());
        }
        SigningKey key = opened.get(signer.keyRef());
        if (key == null) {
            try {
                key = keys.open(KeyRef.parse(signer.keyRef()), passphrase);
            } catch (KeyStoreFailure | IllegalArgumentException e) {
                throw new PkiException(ErrorKind.CONFIG, "cannot open the key of signer '" + signer.name() + "': " + e.getMessage(), e);
            }
        }
        X509Certificate x = cert.issued().certificate();
        if (!Arrays.equals(key.publicKey().getEncoded(), x.getPublicKey().getEncoded())) {
            throw new PkiException(ErrorKind.CONFIG, "key " + signer.keyRef() + " is not the key signer '" + signer.name() + "''s certificate "
                    + cert.issued().serialHex() + " certifies; the key was replaced outside fleetpki; rotate the signer");
        }
        opened.putIfAbsent(signer.keyRef(), key);
        return new Ready(signer, cert, chainAbove(cert.issued().caName()), key, now);
    }

    /** The CA certificates from the signer's issuer up to, not including, the root (the relying party pins the root). */
    private List<X509Certificate> chainAbove(String caName) {
        List<X509Certificate> chain = new ArrayList<>();
        Optional<CaRecord> ca = cas.ca(caName);
        while (ca.isPresent() && ca.get().role() != CaRole.ROOT && chain.size() < 8) {
            chain.add(ca.get().certificate());
            ca = ca.get().parent() == null ? Optional.empty() : cas.ca(ca.get().parent());
        }
        return chain;
    }

    private Signed manifestSignature(Ready r, Request req, byte[] digest, long size, boolean digestOnly) {
        FirmwareManifest m = new FirmwareManifest(digest, size, req.version(), req.model(), req.securityCounter() == null ? 0 : req.securityCounter(),
                req.minimumPreviousVersion(), r.signer().name(), r.now());
        byte[] json = m.json();
        X509Certificate cert = r.certificate().issued().certificate();
        byte[] signature = req.format() == Format.CMS
                ? CmsFirmwareSignature.sign(json, r.key(), cert, r.chain(), r.now())
                : RawFirmwareSignature.sign(json, r.key(), cert, r.chain());
        return new Signed(req.format(), digest, size, json, signature, r.signer().name(), r.certificate().issued().serialHex(), r.now(), digestOnly);
    }
}
