package dev.fleetpki.cli;

import dev.fleetpki.core.CaRecord;
import dev.fleetpki.core.Durations;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.config.ConfigLoader;
import dev.fleetpki.core.revocation.CrlPublisher;
import dev.fleetpki.core.revocation.RevocationLedger.StoredCrl;
import dev.fleetpki.core.revocation.RevocationService;
import dev.fleetpki.kms.Pem;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.GeneralSecurityException;
import java.security.cert.CRLException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509CRL;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.bouncycastle.asn1.ASN1Integer;
import org.bouncycastle.asn1.ASN1OctetString;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "crl", mixinStandardHelpOptions = true,
        description = {"Certificate revocation lists: generate, show, fetch and export them (docs/revocation.md).",
            "'fleetpki serve' also generates them on its schedule (revocation.crl.refresh) and after revocations, and serves them over HTTP."},
        subcommands = {CrlCommand.Generate.class, CrlCommand.Show.class, CrlCommand.Fetch.class, CrlCommand.Export.class, CrlCommand.Import.class})
final class CrlCommand {

    @Command(name = "generate", mixinStandardHelpOptions = true,
            description = {"Generate and store the CRLs of one CA (all its shards) or of every CA whose key opens here.",
                "CAs whose key is not on this machine (an offline root) are skipped with a note."})
    static final class Generate implements Callable<Integer> {
        @Mixin HomeOption home;
        @Option(names = "--ca", paramLabel = "NAME", description = "only this CA (default: all)") String ca;
        @Option(names = "--validity", paramLabel = "DURATION",
                description = "with --ca: nextUpdate this long after thisUpdate instead of revocation.crl.validity (e.g. 90d for an offline root)")
        String validity;

        @Option(names = "--json", description = "one JSON object: {\"crls\": [{\"ca\", \"number\", \"entries\", \"shards\", \"ms\"}], "
                + "\"skipped\": [{\"ca\", \"why\"}]}") boolean json;

        @Override
        public Integer call() throws Exception {
            if (validity != null && ca == null) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "--validity goes with --ca (for example: crl generate --ca root --validity 90d)");
            }
            Duration life = validity == null ? null : parseDuration(validity);
            try (Fleet f = home.open()) {
                RevocationService r = f.revocation();
                Map<String, String> skipped = new LinkedHashMap<>();
                List<CrlPublisher.CrlRun> runs = ca != null
                        ? List.of(life == null ? r.generateCrl(ca, home.actor()) : r.generateCrl(ca, home.actor(), life))
                        : r.generateAll(home.actor(), skipped);
                if (json) {
                    Map<String, Object> out = new LinkedHashMap<>();
                    out.put("crls", runs.stream().map(run -> {
                        Map<String, Object> m = new LinkedHashMap<>();
                        m.put("ca", run.ca());
                        m.put("number", run.number());
                        m.put("entries", run.entries());
                        m.put("shards", run.crls().size());
                        m.put("ms", run.took().toMillis());
                        return m;
                    }).toList());
                    out.put("skipped", skipped.entrySet().stream().map(e -> Map.of("ca", e.getKey(), "why", e.getValue())).toList());
                    Certs.printJson(out);
                    return 0;
                }
                for (CrlPublisher.CrlRun run : runs) {
                    System.out.printf("CRL of %s: number %d, %d entr%s in %d shard%s, %d ms%n", run.ca(), run.number(), run.entries(),
                            run.entries() == 1 ? "y" : "ies", run.crls().size(), run.crls().size() == 1 ? "" : "s", run.took().toMillis());
                }
                skipped.forEach((name, why) -> System.out.println("skipped " + name + ": " + why));
            }
            return 0;
        }
    }

    static Duration parseDuration(String text) {
        try {
            return Durations.parse(text);
        } catch (RuntimeException e) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "'" + text + "' is not a duration like 90d, 12h or 1y");
        }
    }

    @Command(name = "import", mixinStandardHelpOptions = true,
            description = {"Store a CRL signed on another machine (an offline root's) so this server serves it at its URL.",
                "On the root's machine: fleetpki crl generate --ca root --validity 90d && fleetpki crl show --ca root > root-crl.pem; "
                    + "then here: fleetpki crl import root-crl.pem. Its signature, CRL number (above the stored one) and dates are checked."})
    static final class Import implements Callable<Integer> {
        @Mixin HomeOption home;
        @Parameters(paramLabel = "FILE", description = "the CRL, PEM or DER") Path file;

        @Override
        public Integer call() throws Exception {
            byte[] data;
            try {
                data = Files.readAllBytes(file);
            } catch (IOException e) {
                throw new PkiException(ErrorKind.NOT_FOUND, "cannot read " + file + ": " + e.getMessage());
            }
            try (Fleet f = home.open()) {
                var crl = f.revocation().importCrl(data, home.actor());
                System.out.printf("Imported the CRL of %s: number %d, %d entr%s, next update %s%n", crl.ca(), crl.number(), crl.entries(),
                        crl.entries() == 1 ? "y" : "ies", crl.nextUpdate());
            }
            return 0;
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true,
            description = "List the stored CRLs (CA, shard, number, thisUpdate, nextUpdate, entries, size, URL), or print one as PEM.")
    static final class Show implements Callable<Integer> {
        @Mixin HomeOption home;
        @Option(names = "--ca", paramLabel = "NAME", description = "print this CA's CRL as PEM instead of the list") String ca;
        @Option(names = "--shard", defaultValue = "0", description = "with --ca: which shard (default: ${DEFAULT-VALUE})") int shard;
        @Option(names = "--json", description = "the list as one JSON object: {\"crls\": [{\"ca\", \"shard\", \"shards\", \"number\", "
                + "\"thisUpdate\", \"nextUpdate\", \"entries\", \"bytes\", \"url\", \"stale\"}]}") boolean json;

        @Override
        public Integer call() throws Exception {
            try (Fleet f = home.open()) {
                if (ca != null) {
                    StoredCrl crl = f.store().revocation().crl(ca, shard).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND,
                            "no CRL stored for CA '" + ca + "' shard " + shard + "; generate one with: fleetpki crl generate --ca " + ca));
                    System.out.print(Pem.encode("X509 CRL", crl.der()));
                    return 0;
                }
                List<StoredCrl> crls = f.store().revocation().crls();
                Instant now = f.clock().instant();
                if (json) {
                    List<Map<String, Object>> list = new java.util.ArrayList<>();
                    for (StoredCrl c : crls) {
                        Map<String, Object> m = new LinkedHashMap<>();
                        m.put("ca", c.ca());
                        m.put("shard", c.shard());
                        m.put("shards", c.shards());
                        m.put("number", c.number());
                        m.put("thisUpdate", c.thisUpdate().toString());
                        m.put("nextUpdate", c.nextUpdate().toString());
                        m.put("entries", c.entries());
                        m.put("bytes", size(f, c));
                        m.put("url", f.config().crlUrl(c.ca(), c.shard()));
                        m.put("stale", c.nextUpdate().isBefore(now));
                        list.add(m);
                    }
                    Certs.printJson(Map.of("crls", list));
                    return 0;
                }
                if (crls.isEmpty()) {
                    System.out.println("No CRLs stored yet; generate them with: fleetpki crl generate");
                    return 0;
                }
                long max = f.config().revocation().crlMaxEntries();
                Table t = new Table("CA", "SHARD", "NUMBER", "THIS UPDATE", "NEXT UPDATE", "ENTRIES", "SIZE", "URL");
                for (StoredCrl c : crls) {
                    String note = c.nextUpdate().isBefore(now) ? "  STALE: past nextUpdate" : c.entries() > max ? "  over maxEntries " + max : "";
                    t.row(c.ca(), c.shard() + "/" + c.shards(), Long.toString(c.number()), c.thisUpdate().toString(), c.nextUpdate().toString(),
                            Long.toString(c.entries()), size(f, c) + " B", java.util.Objects.requireNonNullElse(f.config().crlUrl(c.ca(), c.shard()), "-") + note);
                }
                t.render().lines().forEach(l -> System.out.println("  " + l));
            }
            return 0;
        }
    }

    /** A stored CRL's size in bytes (the list is read without the CRLs themselves, and so is this). */
    static long size(Fleet f, StoredCrl c) {
        return f.store().revocation().crlSize(c.ca(), c.shard());
    }

    @Command(name = "fetch", mixinStandardHelpOptions = true,
            description = {"Download a CRL over HTTP as a relying party would, check it, and print what it holds.",
                "Its signature is checked with --issuer CA.pem, else with the CA of the CRL's issuer in the CA home (--home, "
                    + "FLEETPKI_HOME or the current folder); with neither, the command prints what it got and exits 78: unchecked."})
    static final class Fetch implements Callable<Integer> {
        @Mixin HomeOption home;
        @Parameters(paramLabel = "URL", description = "the CRL's URL, as in a certificate's CRL distribution point") URI url;
        @Option(names = "--issuer", paramLabel = "FILE", description = "the CA certificate (PEM or DER) the CRL must be signed by") Path issuer;
        @Option(names = "--out", paramLabel = "FILE", description = "also write the CRL here (DER, or PEM when the name ends in .pem)") Path out;
        @Option(names = "--entries", description = "list the revoked serials") boolean entries;

        @Override
        public Integer call() throws Exception {
            if (url.getScheme() == null || !url.getScheme().startsWith("http")) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "'" + url + "' is not an http(s) URL");
            }
            HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
            HttpResponse<byte[]> resp;
            try {
                resp = client.send(HttpRequest.newBuilder(url).timeout(Duration.ofSeconds(60)).GET().build(), HttpResponse.BodyHandlers.ofByteArray());
            } catch (IOException e) {
                throw new PkiException(ErrorKind.NOT_FOUND, "cannot fetch " + url + ": " + e.getMessage() + "; is the server running?");
            }
            if (resp.statusCode() != 200) {
                throw new PkiException(ErrorKind.NOT_FOUND, url + " answered HTTP " + resp.statusCode() + ": "
                        + new String(resp.body(), StandardCharsets.UTF_8).strip());
            }
            X509CRL crl;
            try {
                crl = (X509CRL) CertificateFactory.getInstance("X.509").generateCRL(new ByteArrayInputStream(resp.body()));
            } catch (CRLException e) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, url + " did not return a CRL (" + e.getMessage() + ")");
            }
            System.out.println("CRL from " + url + " (" + resp.body().length + " bytes, " + resp.headers().firstValue("Content-Type").orElse("no type") + ")");
            System.out.println("  issuer:      " + crl.getIssuerX500Principal().getName());
            byte[] num = crl.getExtensionValue("2.5.29.20");
            if (num != null) {
                System.out.println("  number:      " + ASN1Integer.getInstance(
                        ASN1OctetString.getInstance(num).getOctets()).getValue());
            }
            System.out.println("  thisUpdate:  " + crl.getThisUpdate().toInstant());
            System.out.println("  nextUpdate:  " + (crl.getNextUpdate() == null ? "-" : crl.getNextUpdate().toInstant()));
            var revoked = crl.getRevokedCertificates();
            System.out.println("  entries:     " + (revoked == null ? 0 : revoked.size()));
            resp.headers().firstValue("Cache-Control").ifPresent(v -> System.out.println("  cache:       " + v));
            if (crl.getNextUpdate() != null && crl.getNextUpdate().toInstant().isBefore(Instant.now())) {
                System.out.println("  WARNING: past its nextUpdate; relying parties refuse a stale CRL");
            }
            boolean checked = false;
            if (issuer != null) {
                X509Certificate ca = Certs.readCertificate(issuer);
                if (!ca.getSubjectX500Principal().equals(crl.getIssuerX500Principal())) {
                    throw new PkiException(ErrorKind.NAME_MISMATCH, "the CRL's issuer is '" + crl.getIssuerX500Principal().getName() + "', not "
                            + issuer + "'s subject '" + ca.getSubjectX500Principal().getName() + "'");
                }
                verify(crl, ca, issuer.toString());
                checked = true;
            } else if (Files.isRegularFile(home.home().resolve(ConfigLoader.FILE_NAME))) {
                try (Fleet f = home.open()) {
                    CaRecord ca = f.store().cas().stream().filter(c -> c.certificate().getSubjectX500Principal().equals(crl.getIssuerX500Principal()))
                            .findFirst().orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND, "the CRL's issuer is not a CA of this store"));
                    verify(crl, ca.certificate(), "CA '" + ca.name() + "'");
                    checked = true;
                }
            }
            if (entries && revoked != null) {
                for (var e : revoked) {
                    System.out.println("    " + e.getSerialNumber().toString(16) + "  " + e.getRevocationDate().toInstant()
                            + (e.getRevocationReason() == null ? "" : "  " + e.getRevocationReason()));
                }
            }
            if (out != null) {
                byte[] bytes = out.toString().endsWith(".pem") ? Pem.encode("X509 CRL", resp.body()).getBytes(StandardCharsets.US_ASCII) : resp.body();
                Pem.writePublicFile(out, bytes);
                System.out.println("Wrote " + out);
            }
            if (!checked) {
                throw new PkiException(ErrorKind.CONFIG, "the CRL's signature was not checked: no CA home at " + home.home()
                        + " and no --issuer; give --issuer CA.pem (the CA certificate it must be signed by) or --home DIR");
            }
            return 0;
        }

        private static void verify(X509CRL crl, X509Certificate ca, String by) {
            try {
                crl.verify(ca.getPublicKey());
            } catch (GeneralSecurityException e) {
                throw new PkiException(ErrorKind.BAD_SIGNATURE, "the CRL's signature does not verify with " + by + ": " + e.getMessage());
            }
            System.out.println("  signature:   verified with " + by);
        }
    }

    @Command(name = "export", mixinStandardHelpOptions = true,
            description = {"Write the stored CRLs to files for servers that check revocation from a file (nginx ssl_crl, mosquitto crlfile).",
                "--bundle: one PEM file with every CA's CRLs (issuing, code-signing and root), which a server checking the whole chain needs.",
                "Without --bundle: one DER file per CRL in the folder --out (<ca>.crl, or <ca>-<shard>.crl when partitioned).",
                "The file is replaced atomically, so a server reading it never sees half a file."})
    static final class Export implements Callable<Integer> {
        @Mixin HomeOption home;
        @Option(names = "--bundle", description = "one PEM file with all CRLs") boolean bundle;
        @Option(names = "--out", required = true, paramLabel = "PATH", description = "the bundle file, or the folder for DER files") Path out;
        @Option(names = "--generate", description = "generate fresh CRLs first (needs the CA keys on this machine)") boolean generate;

        @Override
        public Integer call() throws Exception {
            try (Fleet f = home.open()) {
                RevocationService r = f.revocation();
                if (generate) {
                    r.generateAll(home.actor(), new LinkedHashMap<>());
                }
                List<StoredCrl> listed = f.store().revocation().crls();
                for (CaRecord ca : r.crlIssuers()) {
                    if (listed.stream().noneMatch(c -> c.ca().equals(ca.name()))) {
                        throw new PkiException(ErrorKind.NOT_FOUND, "no CRL stored for CA '" + ca.name() + "'; a server checking the chain would "
                                + "refuse every client. Generate them first: fleetpki crl generate (or add --generate)");
                    }
                }
                ByteArrayOutputStream pem = new ByteArrayOutputStream();
                int n = 0;
                for (StoredCrl meta : listed) {
                    StoredCrl crl = f.store().revocation().crl(meta.ca(), meta.shard()).orElseThrow();
                    if (bundle) {
                        pem.writeBytes(Pem.encode("X509 CRL", crl.der()).getBytes(StandardCharsets.US_ASCII));
                    } else {
                        Files.createDirectories(out);
                        String name = crl.shards() > 1 ? crl.ca() + "-" + crl.shard() + ".crl" : crl.ca() + ".crl";
                        replace(out.resolve(name), crl.der());
                    }
                    n++;
                }
                if (bundle) {
                    replace(out, pem.toByteArray());
                }
                System.out.println("Wrote " + n + " CRL" + (n == 1 ? "" : "s") + (bundle ? " to " + out : " into " + out));
            }
            return 0;
        }

        /** Writes beside the target and renames over it. */
        private static void replace(Path target, byte[] bytes) throws IOException {
            Path abs = target.toAbsolutePath();
            Files.createDirectories(abs.getParent());
            Path tmp = Files.createTempFile(abs.getParent(), "." + abs.getFileName(), ".tmp");
            try {
                Files.write(tmp, bytes);
                tmp.toFile().setReadable(true, false);
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } finally {
                Files.deleteIfExists(tmp);
            }
        }
    }
}
