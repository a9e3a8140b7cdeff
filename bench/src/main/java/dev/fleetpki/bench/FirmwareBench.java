package dev.fleetpki.bench;

import dev.fleetpki.cli.Fleet;
import dev.fleetpki.core.Actor;
import dev.fleetpki.core.FirmwareAuthorization;
import dev.fleetpki.core.Role;
import dev.fleetpki.core.firmware.FirmwareSigning;
import dev.fleetpki.core.firmware.FirmwareSigning.Format;
import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.KeyRef;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * Firmware signing: (1) large images (1 MB, 64 MB) signed by fleetpki's use case (cms: the digest
 * and a manifest signature; mcuboot: the signed image written to a file), in MB/s, against
 * {@code openssl dgst -sha256} on the same file in the same run; (2) small images (4 KB) signed
 * back to back with a file key and, when SOFTHSM2_CONF points at a token, a SoftHSM2 key, in
 * signatures per second (each one audited in the SQLite store, as in production), against
 * {@code openssl speed ecdsap256} signs/s.
 *
 * <p>{@code java -cp fleetpki-bench.jar dev.fleetpki.bench.FirmwareBench --sizes=1,64 --runs=5 --seconds=5 --out=firmware.md}
 * (with {@code --pkcs11=pkcs11:token=bench;object=fw?module-path=...&pin-source=file:...} for the token row)
 */
public final class FirmwareBench {
    public static void main(String[] args) throws Exception {
        Map<String, String> o = IssuanceBench.options(args);
        int[] sizes = Arrays.stream(o.getOrDefault("sizes", "1,64").split(",")).mapToInt(Integer::parseInt).toArray();
        int runs = Integer.parseInt(o.getOrDefault("runs", "5"));
        int seconds = Integer.parseInt(o.getOrDefault("seconds", "5"));
        Path out = Path.of(o.getOrDefault("out", "firmware.md"));
        String pkcs11 = o.get("pkcs11");
        Path home = Files.createTempDirectory("fleetpki-firmware-bench");
        List<String> rows = new ArrayList<>();
        try {
            IssuanceBench.writeConfig(home, "jdbc:sqlite:fleetpki.db", "  codeSigning: {subject: \"CN=Bench Code Signing\"}\n");
            try (Fleet f = Fleet.open(home, Clock.systemUTC())) {
                f.ceremony(Actor.operator("bench")).init(false);
                f.signers().add(Actor.operator("bench"), Role.ADMIN, "file-signer", Set.of("*"), KeyRef.parse("file:signers/file.p8"),
                        KeyAlgorithm.EC_P256, "code-signing", "bench");
                if (pkcs11 != null) {
                    f.signers().add(Actor.operator("bench"), Role.ADMIN, "hsm-signer", Set.of("*"), KeyRef.parse(pkcs11), KeyAlgorithm.EC_P256,
                            "code-signing", "bench");
                }
                FirmwareSigning signing = f.firmware();
                double inMemory = opensslSpeedSha256();
                rows.add("| image | what fleetpki does | fleetpki MB/s (median of " + runs + ") | `openssl dgst -sha256` MB/s (median) | ratio | "
                        + "`openssl speed -evp sha256` MB/s (in memory, no file) | ratio |");
                rows.add("|---|---|---:|---:|---:|---:|---:|");
                for (int mb : sizes) {
                    Path image = home.resolve("image-" + mb + "mb.bin");
                    writeRandom(image, mb);
                    // one openssl process hashes 64 MB: the file once, or a small file as many times (its start-up is then a few percent)
                    int copies = Math.max(1, 64 / mb);
                    List<String> cmd = new ArrayList<>(List.of("openssl", "dgst", "-sha256"));
                    for (int i = 0; i < copies; i++) {
                        cmd.add(image.toString());
                    }
                    double openssl = median(runs, () -> {
                        long t0 = System.nanoTime();
                        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
                        p.getInputStream().readAllBytes();
                        if (p.waitFor() != 0) {
                            throw new IllegalStateException("openssl dgst failed");
                        }
                        return (double) mb * copies / ((System.nanoTime() - t0) / 1e9);
                    });
                    double digestOnly = median(runs, () -> {
                        long t0 = System.nanoTime();
                        MessageDigest md = MessageDigest.getInstance("SHA-256");
                        byte[] buf = new byte[256 * 1024]; // as FirmwareSigning reads an image
                        try (InputStream in = Files.newInputStream(image)) {
                            int n;
                            while ((n = in.read(buf)) > 0) {
                                md.update(buf, 0, n);
                            }
                        }
                        md.digest();
                        return mb / ((System.nanoTime() - t0) / 1e9);
                    });
                    rows.add(row(mb, "the image read and hashed, as signing reads it (JDK SHA-256)", digestOnly, openssl, inMemory));
                    for (Format format : List.of(Format.CMS, Format.MCUBOOT)) {
                        FirmwareAuthorization auth = f.authorizer().firmware(FirmwareAuthorization.Caller.operator(Actor.operator("bench")),
                                signing.signer("file-signer"), "bench", "bench");
                        Path signed = home.resolve("signed.bin");
                        double fleetpki = median(runs, () -> {
                            long t0 = System.nanoTime();
                            try (InputStream in = Files.newInputStream(image);
                                 OutputStream os = format == Format.MCUBOOT ? Files.newOutputStream(signed) : OutputStream.nullOutputStream()) {
                                signing.sign(auth, new FirmwareSigning.Request("file-signer", "bench", "1.0.0", format, null, null, 0x200, true, "bench"),
                                        in, Files.size(image), os);
                            }
                            return mb / ((System.nanoTime() - t0) / 1e9);
                        });
                        String what = format == Format.CMS ? "`firmware sign --format cms`: digest, manifest, CMS signature, audit commit"
                                : "`firmware sign --format mcuboot`: the signed image also written to a file, audit commit";
                        rows.add(row(mb, what, fleetpki, openssl, inMemory));
                        IssuanceBench.progress(mb + " MB " + format + ": " + Math.round(fleetpki) + " MB/s, openssl " + Math.round(openssl) + " MB/s");
                    }
                }
                double osign = opensslSigns();
                rows.add("");
                rows.add("| signer key | format | small image (4 KB) signatures/s, " + seconds + " s | `openssl speed ecdsap256` signs/s | ratio |");
                rows.add("|---|---|---:|---:|---:|");
                List<String> signers = new ArrayList<>(List.of("file-signer"));
                if (pkcs11 != null) {
                    signers.add("hsm-signer");
                }
                byte[] small = new byte[4096];
                new Random(1).nextBytes(small);
                for (String signer : signers) {
                    for (Format format : List.of(Format.MCUBOOT, Format.CMS)) {
                        FirmwareAuthorization auth = f.authorizer().firmware(FirmwareAuthorization.Caller.operator(Actor.operator("bench")),
                                signing.signer(signer), "bench", "bench");
                        FirmwareSigning.Request req = new FirmwareSigning.Request(signer, "bench", "1.0.0", format, null, null, 0x200, true, "bench");
                        signing.sign(auth, req, new ByteArrayInputStream(small), small.length, OutputStream.nullOutputStream()); // opens the key
                        long n = 0;
                        long end = System.nanoTime() + seconds * 1_000_000_000L;
                        long t0 = System.nanoTime();
                        while (System.nanoTime() < end) {
                            signing.sign(auth, req, new ByteArrayInputStream(small), small.length, OutputStream.nullOutputStream());
                            n++;
                        }
                        double rate = n / ((System.nanoTime() - t0) / 1e9);
                        String key = signer.equals("file-signer") ? "encrypted file (P-256)" : "SoftHSM2 token (P-256)";
                        rows.add(String.format(Locale.ROOT, "| %s | %s | %,.0f | %,.0f | %.3f |", key, format.configName(), rate, osign, rate / osign));
                        IssuanceBench.progress(key + " " + format + ": " + Math.round(rate) + " signatures/s");
                    }
                }
            }
            Files.writeString(out, String.join("\n", rows) + "\n");
        } finally {
            IssuanceBench.deleteTree(home);
        }
    }

    static String row(int mb, String what, double fleetpki, double openssl, double inMemory) {
        return String.format(Locale.ROOT, "| %d MB | %s | %,.0f | %,.0f | %.2f | %,.0f | %.2f |", mb, what, fleetpki, openssl, fleetpki / openssl,
                inMemory, fleetpki / inMemory);
    }

    /** SHA-256 in memory, 1 MiB blocks, as {@code openssl speed -evp sha256} reports it (in MB/s). */
    static double opensslSpeedSha256() throws Exception {
        Process p = new ProcessBuilder("openssl", "speed", "-evp", "sha256", "-bytes", "1048576", "-seconds", "3").redirectErrorStream(true).start();
        String text = new String(p.getInputStream().readAllBytes());
        p.waitFor();
        for (String line : text.split("\n")) {
            if (line.startsWith("sha256 ") || line.startsWith("SHA256 ")) {
                String[] parts = line.trim().split("\\s+");
                return Double.parseDouble(parts[parts.length - 1].replace("k", "")) * 1000 / 1e6;
            }
        }
        throw new IllegalStateException("openssl speed printed no sha256 line:\n" + text);
    }

    interface Run {
        double once() throws Exception;
    }

    static double median(int runs, Run r) throws Exception {
        r.once(); // warm-up: the JIT, the page cache
        double[] v = new double[runs];
        for (int i = 0; i < runs; i++) {
            v[i] = r.once();
        }
        Arrays.sort(v);
        return v[runs / 2];
    }

    static void writeRandom(Path file, int mb) throws Exception {
        byte[] chunk = new byte[1 << 20];
        Random rnd = new Random(mb);
        try (OutputStream os = Files.newOutputStream(file)) {
            for (int i = 0; i < mb; i++) {
                rnd.nextBytes(chunk);
                os.write(chunk);
            }
        }
    }

    /** One process's ECDSA P-256 signs per second, as {@code openssl speed} reports it. */
    static double opensslSigns() throws Exception {
        Process p = new ProcessBuilder("openssl", "speed", "-seconds", "3", "ecdsap256").redirectErrorStream(true).start();
        String text = new String(p.getInputStream().readAllBytes());
        p.waitFor();
        for (String line : text.split("\n")) {
            if (line.contains("256 bits ecdsa (nistp256)")) {
                String[] parts = line.trim().split("\\s+");
                return Double.parseDouble(parts[parts.length - 2]);
            }
        }
        throw new IllegalStateException("openssl speed printed no nistp256 line:\n" + text);
    }
}
