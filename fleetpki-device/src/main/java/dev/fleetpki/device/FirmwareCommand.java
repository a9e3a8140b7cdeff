package dev.fleetpki.device;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.cert.CRLException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509CRL;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "firmware", mixinStandardHelpOptions = true, description = "Firmware images signed by fleetpki: verify before installing.",
        subcommands = {FirmwareCommand.Verify.class})
final class FirmwareCommand {
    @Command(name = "verify", mixinStandardHelpOptions = true, description = {
        "Verify a signed image (cms or raw format) before installing it: the signature, the signer's chain to the fleet root with the "
            + "codeSigning usage and valid when it signed, the signer not revoked before it signed (--crl), the image's SHA-256 and size, "
            + "the model, and anti-rollback (a newer version, a security counter not below the installed one).",
        "With --install-to, the image is copied there only when every check passed; on any failure nothing is written and the reason is printed (exit 65)."})
    static final class Verify implements Callable<Integer> {
        @Option(names = "--image", required = true, paramLabel = "FILE") Path image;
        @Option(names = "--signature", required = true, paramLabel = "FILE", description = "IMAGE.manifest.json.p7s (cms) or IMAGE.fwsig (raw)") Path signature;
        @Option(names = "--manifest", paramLabel = "FILE", description = "cms: the manifest the signature covers (IMAGE.manifest.json)") Path manifest;
        @Option(names = "--trust", required = true, paramLabel = "ROOT.pem", description = "the fleet root, pinned on the device") Path trust;
        @Option(names = "--model", required = true, paramLabel = "MODEL", description = "this device's model") String model;
        @Option(names = "--installed-version", required = true, paramLabel = "V", description = "the version running now") String installedVersion;
        @Option(names = "--installed-security-counter", defaultValue = "0", paramLabel = "N") long installedCounter;
        @Option(names = "--crl", paramLabel = "FILE", description = "CRLs of the code-signing CA (PEM or DER; repeatable)") List<Path> crls;
        @Option(names = "--no-revocation-check", description = "verify without a CRL (say so explicitly; the output says it too)") boolean noRevocation;
        @Option(names = "--install-to", paramLabel = "FILE", description = "copy the image here once it verified (atomically)") Path installTo;

        @Override
        public Integer call() throws IOException {
            X509Certificate root = readRoot(trust);
            if (crls == null && !noRevocation) {
                throw new DeviceException("give the code-signing CA's CRL with --crl FILE (fleetpki crl export), or --no-revocation-check to verify without one");
            }
            FirmwareVerifier v = noRevocation ? FirmwareVerifier.withoutRevocationCheck(root) : FirmwareVerifier.withCrls(root, readCrls(crls));
            FirmwareVerifier.Installed installed = new FirmwareVerifier.Installed(model, installedVersion, installedCounter);
            byte[] sig = read(signature);
            FirmwareVerifier.Verified ok;
            try (InputStream in = open(image)) {
                boolean raw = sig.length >= FirmwareVerifier.RAW_MAGIC.length
                        && Arrays.equals(Arrays.copyOf(sig, FirmwareVerifier.RAW_MAGIC.length), FirmwareVerifier.RAW_MAGIC);
                if (raw) {
                    ok = v.verifyRaw(sig, in, installed);
                } else {
                    if (manifest == null) {
                        throw new DeviceException("a CMS signature is detached: give the manifest it covers with --manifest (IMAGE.manifest.json)");
                    }
                    ok = v.verifyCms(read(manifest), sig, in, installed);
                }
            }
            System.out.println("Verified " + image.getFileName() + ": version " + ok.version() + " for " + ok.model() + ", security counter "
                    + ok.securityCounter() + ", signed by " + ok.signer() + " (certificate " + ok.signerCertificate().getSerialNumber().toString(16)
                    + ") at " + ok.signedAt());
            System.out.println("  " + ok.digest() + ", " + ok.size() + " bytes; revocation " + (ok.revocationChecked() ? "checked" : "NOT checked"));
            if (installTo != null) {
                Path tmp = Files.createTempFile(installTo.toAbsolutePath().getParent(), ".fleetpki-", ".tmp");
                try {
                    Files.copy(image, tmp, StandardCopyOption.REPLACE_EXISTING);
                    Files.move(tmp, installTo, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                } finally {
                    Files.deleteIfExists(tmp);
                }
                System.out.println("  installed to " + installTo);
            }
            return 0;
        }

        private static InputStream open(Path p) throws IOException {
            try {
                return Files.newInputStream(p);
            } catch (NoSuchFileException e) {
                throw new DeviceException("no file " + p);
            }
        }

        private static byte[] read(Path p) throws IOException {
            try {
                return Files.readAllBytes(p);
            } catch (NoSuchFileException e) {
                throw new DeviceException("no file " + p);
            }
        }

        private static X509Certificate readRoot(Path p) throws IOException {
            try (InputStream in = open(p)) {
                return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
            } catch (CertificateException e) {
                throw new DeviceException(p + " is not a certificate (PEM or DER): " + e.getMessage());
            }
        }

        private static List<X509CRL> readCrls(List<Path> files) throws IOException {
            List<X509CRL> out = new ArrayList<>();
            for (Path f : files) {
                try (InputStream in = open(f)) {
                    CertificateFactory.getInstance("X.509").generateCRLs(in).forEach(c -> out.add((X509CRL) c));
                } catch (CRLException | CertificateException e) {
                    throw new DeviceException(f + " is not a CRL (PEM or DER): " + e.getMessage());
                }
            }
            return out;
        }
    }
}
