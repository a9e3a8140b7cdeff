package dev.fleetpki.bench;

import dev.fleetpki.cli.Fleet;
import dev.fleetpki.core.Actor;
import dev.fleetpki.core.AuditAction;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.IssuanceRequest;
import dev.fleetpki.core.IssuedCertificate;
import dev.fleetpki.core.OcspSigner;
import dev.fleetpki.core.RevocationReason;
import dev.fleetpki.core.UntrustedCsr;
import dev.fleetpki.server.RevocationHttp;
import dev.fleetpki.server.RevocationScheduler;
import dev.fleetpki.server.Services;
import java.math.BigInteger;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.bouncycastle.cert.ocsp.BasicOCSPResp;
import org.bouncycastle.cert.ocsp.OCSPReqBuilder;
import org.bouncycastle.cert.ocsp.OCSPResp;
import org.bouncycastle.cert.ocsp.RevokedStatus;

/**
 * Latency from {@code fleetpki revoke} to the refreshed OCSP answer: a responder (the plain-HTTP
 * side of {@code fleetpki serve}) with a pre-signed "good" answer for each certificate, a client
 * polling it over HTTP every 5 ms with the request a relying party sends (SHA-1 CertID, no nonce),
 * and the revocation made by the {@code fleetpki revoke} command in a process of its own (JVM start
 * included; through the {@code ./fleetpki} launcher when run from the repository) or in the server
 * process (as the REST API does). Reports the median and the worst of N.
 *
 * <p>{@code java -cp fleetpki-bench.jar dev.fleetpki.bench.RevokeLatencyBench --runs=10 --out=revoke.md}
 */
public final class RevokeLatencyBench {
    public static void main(String[] args) throws Exception {
        Map<String, String> o = IssuanceBench.options(args);
        int runs = Integer.parseInt(o.getOrDefault("runs", "10"));
        Path out = Path.of(o.getOrDefault("out", "revoke.md"));
        Path home = Files.createTempDirectory("fleetpki-revoke-bench");
        try {
            IssuanceBench.writeConfig(home, "jdbc:sqlite:fleetpki.db");
            try (Fleet f = Fleet.open(home, Clock.systemUTC())) {
                f.ceremony(Actor.operator("bench")).init(false);
                IssuanceBench.registerDevices(f, 2 * runs);
            }
            try (Fleet f = Fleet.open(home, Clock.systemUTC())) {
                Services s = Services.of(f.config(), f.store(), f.cas(), f.pipeline(), f.clock());
                List<byte[]> csrs = IssuanceBench.p256Csrs(2 * runs);
                List<IssuedCertificate> certs = new ArrayList<>();
                for (int i = 0; i < 2 * runs; i++) {
                    certs.add(s.pipeline().issue(IssuanceRequest.fromCsr(UntrustedCsr.parse(csrs.get(i)), "bench-" + i, "device", "bench"),
                            s.authorizer().operator(Actor.operator("bench"), "bench-" + i, "device", "bench")));
                }
                var rev = s.revocation();
                try (RevocationHttp http = RevocationHttp.start(rev, f.store(), f.store().revocation(), s.metrics(), "127.0.0.1", 0);
                     RevocationScheduler scheduler = RevocationScheduler.start(rev)) {
                    IssuanceBench.progress("pre-signed " + rev.presign() + " OCSP answers");
                    OcspSigner.Issuer issuer = OcspSigner.Issuer.of("issuing", f.store().ca("issuing").orElseThrow().certificate());
                    String url = "http://127.0.0.1:" + http.port() + "/ocsp";
                    HttpClient client = HttpClient.newHttpClient();
                    long[] cli = new long[runs];
                    long[] api = new long[runs];
                    List<String> revokeCommand = revokeCommand();
                    for (int i = 0; i < runs; i++) {
                        IssuedCertificate c = certs.get(i);
                        byte[] req = new OCSPReqBuilder().addRequest(issuer.sha1Id(new BigInteger(c.serialHex(), 16))).build().getEncoded();
                        expect(client, url, req, "good");
                        long t0 = System.nanoTime();
                        List<String> cmd = new ArrayList<>(revokeCommand);
                        cmd.addAll(List.of("revoke", c.serialHex(), "--reason", "key-compromise", "--home", home.toString()));
                        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
                        waitRevoked(client, url, req);
                        cli[i] = System.nanoTime() - t0;
                        p.getInputStream().readAllBytes();
                        p.waitFor();
                        IssuanceBench.progress("fleetpki revoke (own process) " + (i + 1) + "/" + runs + ": " + cli[i] / 1_000_000 + " ms");
                    }
                    for (int i = 0; i < runs; i++) {
                        IssuedCertificate c = certs.get(runs + i);
                        byte[] req = new OCSPReqBuilder().addRequest(issuer.sha1Id(new BigInteger(c.serialHex(), 16))).build().getEncoded();
                        expect(client, url, req, "good");
                        long t0 = System.nanoTime();
                        Thread.ofVirtual().start(() -> { // what POST /api/v1/certificates/{serial}/revoke does
                            Instant now = f.clock().instant();
                            f.store().certificates().revoke(c.serialHex(), RevocationReason.KEY_COMPROMISE, now,
                                    new AuditEvent(now, Actor.operator("bench"), AuditAction.CERTIFICATE_REVOKE, "serial:" + c.serialHex(), Map.of()));
                            s.revocation().revoked(List.of(c.serialHex()));
                        });
                        waitRevoked(client, url, req);
                        api[i] = System.nanoTime() - t0;
                    }
                    String table = """
                            | revocation to the first "revoked" OCSP answer (%d runs each) | median | worst |
                            |---|---:|---:|
                            | `./fleetpki revoke` command (new JVM with the start-up cache, opens the store, commits; the responder sees it within its 100 ms epoch poll) | %s | %s |
                            | in the server (REST API path: commit, then re-sign) | %s | %s |
                            """.formatted(runs, ms(median(cli)), ms(max(cli)), ms(median(api)), ms(max(api)));
                    Files.writeString(out, table);
                    System.out.print(table);
                }
            }
        } finally {
            IssuanceBench.deleteTree(home);
        }
    }

    /**
     * The command as a user runs it: the {@code ./fleetpki} launcher when the benchmark runs from
     * the repository (it adds the start-up cache; one {@code --version} first so the cache exists
     * before timing), else a plain JVM on this class path.
     */
    private static List<String> revokeCommand() throws Exception {
        Path launcher = Path.of("fleetpki").toAbsolutePath();
        if (Files.isExecutable(launcher)) {
            Process p = new ProcessBuilder(launcher.toString(), "--version").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            p.waitFor();
            return List.of(launcher.toString());
        }
        return List.of(ProcessHandle.current().info().command().orElse("java"), "--enable-native-access=ALL-UNNAMED", "-cp", CrlBench.classpath(),
                "dev.fleetpki.app.Main");
    }

    private static void waitRevoked(HttpClient client, String url, byte[] req) throws Exception {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (System.nanoTime() < deadline) {
            if (status(client, url, req).equals("revoked")) {
                return;
            }
            Thread.sleep(5);
        }
        throw new IllegalStateException("no revoked answer within 30 s");
    }

    private static void expect(HttpClient client, String url, byte[] req, String want) throws Exception {
        String got = status(client, url, req);
        if (!got.equals(want)) {
            throw new IllegalStateException("OCSP says " + got + ", expected " + want);
        }
    }

    private static String status(HttpClient client, String url, byte[] req) throws Exception {
        HttpResponse<byte[]> r = client.send(HttpRequest.newBuilder(URI.create(url)).header("Content-Type", "application/ocsp-request")
                .POST(HttpRequest.BodyPublishers.ofByteArray(req)).build(), HttpResponse.BodyHandlers.ofByteArray());
        var s = ((BasicOCSPResp) new OCSPResp(r.body()).getResponseObject()).getResponses()[0].getCertStatus();
        return s == null ? "good" : s instanceof RevokedStatus ? "revoked" : "unknown";
    }


    private static long median(long[] a) {
        long[] c = a.clone();
        Arrays.sort(c);
        return c[c.length / 2];
    }

    private static long max(long[] a) {
        return Arrays.stream(a).max().orElse(0);
    }

    private static String ms(long nanos) {
        return String.format(Locale.ROOT, "%.0f ms", nanos / 1e6);
    }
}
