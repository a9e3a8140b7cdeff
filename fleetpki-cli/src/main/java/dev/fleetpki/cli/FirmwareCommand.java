package dev.fleetpki.cli;

import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.FirmwareAuthorization;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.firmware.FirmwareSigning;
import dev.fleetpki.core.firmware.FirmwareSigning.Format;
import dev.fleetpki.core.firmware.IntelHex;
import dev.fleetpki.core.firmware.McubootImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "firmware", mixinStandardHelpOptions = true,
        description = "Sign firmware images with a firmware signer's key (docs/firmware.md).",
        subcommands = {FirmwareCommand.Sign.class})
final class FirmwareCommand {
    @Command(name = "sign", mixinStandardHelpOptions = true, description = {
        "Sign an image for one device model with a signer, in one of three formats:",
        "  mcuboot  the signed MCUboot image (header, image, TLVs with SHA-256, key hash and ECDSA P-256 or Ed25519 signature) -> IMAGE.signed.bin",
        "  cms      a JSON manifest and its detached CMS signature with the signer's chain -> IMAGE.manifest.json and IMAGE.manifest.json.p7s",
        "  raw      the manifest with a plain ECDSA signature and the signer's chain, for Mbed TLS bootloaders -> IMAGE.fwsig",
        "The image is read once and never held whole (except an Intel HEX file, converted in memory). Each signature is audited "
            + "with the signer, the model and the digest; outputs appear only when everything succeeded."})
    static final class Sign implements Callable<Integer> {
        @Mixin HomeOption home;
        @Option(names = "--signer", required = true, paramLabel = "NAME") String signer;
        @Option(names = "--image", required = true, paramLabel = "FILE", description = "the unsigned image: a .bin, or an Intel HEX file (.hex)")
        Path image;
        @Option(names = "--version", required = true, paramLabel = "V", description = "major.minor.revision, optionally +build (1.4.2, 1.4.2+7)")
        String version;
        @Option(names = "--model", required = true, paramLabel = "MODEL", description = "the device model the image is for") String model;
        @Option(names = "--format", required = true, paramLabel = "FORMAT", description = "mcuboot, cms or raw") String format;
        @Option(names = "--security-counter", paramLabel = "N", description = "anti-rollback counter: MCUboot's protected TLV, the manifest's "
                + "securityCounter (default: none / 0)") Long securityCounter;
        @Option(names = "--minimum-previous-version", paramLabel = "V", description = "cms, raw: the lowest installed version this image may replace")
        String minimumPreviousVersion;
        @Option(names = "--header-size", defaultValue = "0x200", paramLabel = "BYTES", description = "mcuboot: the header size (default ${DEFAULT-VALUE}, Zephyr's)")
        String headerSize;
        @Option(names = "--pad-header", description = "mcuboot: the image has no header space at its start; put the header before it "
                + "(without it, its first header-size bytes must be zeros, as Zephyr reserves them)") boolean padHeader;
        @Option(names = "--json", description = "one JSON object: {\"format\", \"signer\", \"certificate\" (the signer certificate's serial), "
                + "\"model\", \"version\", \"size\", \"sha256\" (or \"sha384\": the image digest; for mcuboot the image hash TLV), \"files\": [what was written]}")
        boolean json;
        @Option(names = "--out", paramLabel = "FILE", description = "where to write (cms: the manifest; its signature goes to FILE.p7s); "
                + "default: next to the image") Path out;

        @Override
        public Integer call() throws IOException {
            Format f = Format.parse(format);
            FirmwareSigning.Request req = new FirmwareSigning.Request(signer, model, version, f, securityCounter, minimumPreviousVersion,
                    McubootImage.parseHeaderSize(headerSize, "--header-size"), padHeader, "cli");
            Path target = out != null ? out : defaultOut(image, f);
            if (!Files.isDirectory(target.toAbsolutePath().getParent())) {
                throw new PkiException(ErrorKind.NOT_FOUND, "folder " + target.toAbsolutePath().getParent() + " does not exist; make it first or "
                        + "choose another --out");
            }
            try (Fleet fleet = home.open(); Input in = Input.open(image)) {
                FirmwareSigning signing = fleet.firmware();
                FirmwareAuthorization auth = fleet.authorizer().firmware(FirmwareAuthorization.Caller.operator(home.actor()), signing.signer(signer), model, "cli");
                Path tmp = tempNextTo(target);
                try {
                    FirmwareSigning.Signed s;
                    try (OutputStream o = Files.newOutputStream(tmp)) {
                        s = signing.sign(auth, req, in.stream(), in.size(), o);
                    }
                    switch (f) {
                        case MCUBOOT -> move(tmp, target);
                        case CMS -> {
                            Files.write(tmp, s.manifest());
                            Path sig = Path.of(target + ".p7s");
                            Path sigTmp = tempNextTo(target);
                            try {
                                Files.write(sigTmp, s.signature());
                                move(sigTmp, sig);
                            } finally {
                                Files.deleteIfExists(sigTmp);
                            }
                            move(tmp, target);
                        }
                        case RAW -> {
                            Files.write(tmp, s.signature());
                            move(tmp, target);
                        }
                    }
                    if (json) {
                        java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
                        m.put("format", f.name().toLowerCase(Locale.ROOT));
                        m.put("signer", signer);
                        m.put("certificate", s.certificateSerial());
                        m.put("model", model);
                        m.put("version", version);
                        m.put("size", s.size());
                        m.put(s.digestAlgorithm().toLowerCase(Locale.ROOT).replace("-", ""), s.digestHex());
                        m.put("files", f == Format.CMS ? java.util.List.of(target.toString(), target + ".p7s") : java.util.List.of(target.toString()));
                        Certs.printJson(m);
                        return 0;
                    }
                    System.out.println("Signed " + image.getFileName() + " (" + s.size() + " bytes) for " + model + " version " + version + " with signer "
                            + signer + " (certificate " + s.certificateSerial() + ")");
                    System.out.println("  " + (f == Format.MCUBOOT ? "image hash (TLV 0x10)" : "image " + s.digestAlgorithm().toUpperCase(Locale.ROOT)
                            .replace("SHA", "SHA-")) + ": " + s.digestHex());
                    System.out.println("  wrote " + target + (f == Format.CMS ? " and " + target + ".p7s" : ""));
                } finally {
                    Files.deleteIfExists(tmp);
                }
            }
            return 0;
        }

        /** A temporary file in the target's folder (so the final move is atomic), readable by all as a signed image is public. */
        private static Path tempNextTo(Path target) throws IOException {
            Path tmp = Files.createTempFile(target.toAbsolutePath().getParent(), ".fleetpki-", ".tmp");
            try {
                Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-r--r--"));
            } catch (UnsupportedOperationException e) {
                // not a POSIX file system: the default permissions stay
            }
            return tmp;
        }

        private static void move(Path from, Path to) throws IOException {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        }

        static Path defaultOut(Path image, Format f) {
            String name = image.getFileName().toString();
            int dot = name.lastIndexOf('.');
            String base = dot > 0 ? name.substring(0, dot) : name;
            String suffix = switch (f) {
                case MCUBOOT -> ".signed.bin";
                case CMS -> ".manifest.json";
                case RAW -> ".fwsig";
            };
            return image.resolveSibling(base + suffix);
        }
    }

    /** The image as a stream of known size: the file itself, or the binary an Intel HEX file describes. */
    record Input(InputStream stream, long size) implements AutoCloseable {
        static Input open(Path image) throws IOException {
            try {
                if (isIntelHex(image)) {
                    IntelHex.Image hex = IntelHex.read(Files.newBufferedReader(image, StandardCharsets.US_ASCII));
                    return new Input(new ByteArrayInputStream(hex.bytes()), hex.bytes().length);
                }
                return new Input(Files.newInputStream(image), Files.size(image));
            } catch (NoSuchFileException e) {
                throw new PkiException(ErrorKind.NOT_FOUND, "no image at " + image);
            }
        }

        private static boolean isIntelHex(Path image) {
            String name = image.getFileName().toString().toLowerCase(Locale.ROOT);
            return name.endsWith(".hex") || name.endsWith(".ihex");
        }

        @Override
        public void close() throws IOException {
            stream.close();
        }
    }
}
