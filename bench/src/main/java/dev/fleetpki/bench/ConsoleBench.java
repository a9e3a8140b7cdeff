package dev.fleetpki.bench;

import dev.fleetpki.cli.Fleet;
import dev.fleetpki.core.Actor;
import dev.fleetpki.core.AuditAction;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.Device;
import dev.fleetpki.core.EnrollmentRequest;
import dev.fleetpki.core.IssuanceRequest;
import dev.fleetpki.core.IssuedCertificate;
import dev.fleetpki.core.Operator;
import dev.fleetpki.core.Passwords;
import dev.fleetpki.core.Role;
import dev.fleetpki.core.UntrustedCsr;
import dev.fleetpki.kms.KeyAlgorithm;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;

/**
 * Every console page's answer time on a store of 1,000,000 certificates (issue 24: under 200 ms
 * each), against the same pages on a store of 1,000 (the reference, measured in the same run: the
 * ratio says how much a page slows as the fleet grows). Each store: N devices registered through
 * the store's bulk registration (with their audit events, in the hash chain), 200 certificates
 * issued through the issuance pipeline, and N - 200 more certificate rows written straight into
 * the store with one of those certificates' DER (the pages read their columns; the certificate
 * page measured shows a really issued one); issue dates spread over the last 365 days and ends
 * over the next 400; 1% of the devices disabled, 0.5% revoked; 20 requests kept for an operator. A
 * {@code fleetpki serve} process serves it; an HTTP client signed in as an admin operator asks
 * each page 5 times to warm up, then 20 times, one at a time, over one keep-alive connection, and
 * the table gives the median and the slowest. The dashboard is counted anew on every request
 * ({@code -Dfleetpki.console.dashboardTtlSeconds=0}), the worst case; served, it reuses its counts
 * for 30 s. Not a test: run it with {@code bench/run-console}.
 */
public final class ConsoleBench {
    static final int ISSUED = 200;
    static final int WARM = 5;
    static final int TIMED = 20;

    record Page(String name, String path) {}

    record Timing(double p50, double max) {}

    public static void main(String[] args) throws Exception {
        Map<String, String> o = IssuanceBench.options(args);
        int big = Integer.parseInt(o.getOrDefault("certificates", "1000000"));
        int small = Integer.parseInt(o.getOrDefault("reference", "1000"));
        Path out = Path.of(o.getOrDefault("out", "console.md"));
        System.setProperty("jdk.internal.httpclient.disableHostnameVerification", "true");
        if (o.containsKey("fill-only")) { // a store to look at with sqlite3: filled, kept, nothing served
            Path home = Path.of(o.get("fill-only"));
            Files.createDirectories(home);
            IssuanceBench.writeConfig(home, "jdbc:sqlite:fleetpki.db");
            try (Fleet f = Fleet.open(home, Clock.systemUTC())) {
                f.ceremony(Actor.operator("bench")).init(false);
                fill(f, home, big);
            }
            return;
        }
        Map<String, Timing> ref = run(small);
        Map<String, Timing> at = run(big);
        StringBuilder md = new StringBuilder();
        md.append(String.format(Locale.ROOT, "| page (GET, signed in as admin) | %,d certificates: median | slowest of %d | %,d certificates: median "
                + "| slowest | median vs the small store |%n|---|---:|---:|---:|---:|---:|%n", big, TIMED, small));
        for (Map.Entry<String, Timing> e : at.entrySet()) {
            Timing r = ref.get(e.getKey());
            md.append(String.format(Locale.ROOT, "| %s | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %.1fx |%n", e.getKey(), e.getValue().p50(),
                    e.getValue().max(), r.p50(), r.max(), e.getValue().p50() / Math.max(0.01, r.p50())));
        }
        double worst = at.values().stream().mapToDouble(Timing::max).max().orElse(0);
        md.append(String.format(Locale.ROOT, "| **slowest answer of any page at %,d** | | **%.1f ms** (target: under 200 ms) | | | |%n", big, worst));
        Files.writeString(out, md.toString());
        System.out.print(md);
    }

    static List<Page> pages(String device, String serial) {
        return List.of(new Page("dashboard (counted anew)", "/console/"), new Page("devices, first page", "/console/devices"),
                new Page("devices, status revoked", "/console/devices?status=revoked"),
                new Page("devices, id prefix search", "/console/devices?q=" + device.substring(0, device.length() - 2)),
                new Page("devices, page 10,000 (keyset)", "/console/devices?after=" + device),
                new Page("device with its certificates", "/console/devices/" + device), new Page("certificate", "/console/certificates/" + serial),
                new Page("pending requests", "/console/requests"), new Page("audit log, newest", "/console/audit"),
                new Page("audit log, one rare action", "/console/audit?action=certificate.issue"),
                new Page("audit log, one device", "/console/audit?target=device%3A" + device), new Page("CAs", "/console/cas"));
    }

    static Map<String, Timing> run(int n) throws Exception {
        Path home = Files.createTempDirectory("fleetpki-console-bench");
        try {
            IssuanceBench.writeConfig(home, "jdbc:sqlite:fleetpki.db");
            String device;
            String serial;
            KeyStore trust = KeyStore.getInstance("PKCS12");
            trust.load(null, null);
            try (Fleet f = Fleet.open(home, Clock.systemUTC())) {
                f.ceremony(Actor.operator("bench")).init(false);
                trust.setCertificateEntry("root", f.store().ca("root").orElseThrow().certificate());
                String[] picked = fill(f, home, n);
                device = picked[0];
                serial = picked[1];
                f.store().operators().addOperator(new Operator("bench", Role.ADMIN, Passwords.hash("benchmark password".toCharArray()), "active", 0, null,
                        null, Instant.now(), Actor.operator("bench")), new AuditEvent(Instant.now(), Actor.operator("bench"), AuditAction.OPERATOR_ADD,
                        "operator:bench", Map.of()));
            }
            IssuanceBench.progress(String.format(Locale.ROOT, "%,d certificates: starting fleetpki serve", n));
            ServeProcess served = ServeProcess.start(home, ServeProcess.command(home, List.of("-Xmx1g", "-Dfleetpki.console.dashboardTtlSeconds=0")));
            Process p = served.process();
            int port = served.port();
            try {
                TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
                tmf.init(trust);
                SSLContext ssl = SSLContext.getInstance("TLS");
                ssl.init(null, tmf.getTrustManagers(), null);
                HttpClient http = HttpClient.newBuilder().sslContext(ssl).version(HttpClient.Version.HTTP_1_1).build();
                String base = "https://127.0.0.1:" + port;
                HttpResponse<String> login = http.send(HttpRequest.newBuilder(URI.create(base + "/console/login"))
                        .header("Content-Type", "application/x-www-form-urlencoded")
                        .POST(HttpRequest.BodyPublishers.ofString("name=bench&password=" + URLEncoder.encode("benchmark password", StandardCharsets.UTF_8)))
                        .build(), HttpResponse.BodyHandlers.ofString());
                if (login.statusCode() != 303) {
                    throw new IllegalStateException("sign-in failed: " + login.statusCode() + " " + login.body());
                }
                String cookie = login.headers().firstValue("Set-Cookie").orElseThrow();
                cookie = cookie.substring(0, cookie.indexOf(';'));
                Map<String, Timing> out = new LinkedHashMap<>();
                for (Page page : pages(device, serial)) {
                    HttpRequest req = HttpRequest.newBuilder(URI.create(base + page.path())).header("Cookie", cookie).build();
                    List<Double> ms = new ArrayList<>();
                    for (int i = 0; i < WARM + TIMED; i++) {
                        long t0 = System.nanoTime();
                        HttpResponse<String> resp = http.send(req, HttpResponse.BodyHandlers.ofString());
                        long t1 = System.nanoTime();
                        if (resp.statusCode() != 200) {
                            throw new IllegalStateException(page.path() + ": " + resp.statusCode() + " " + resp.body());
                        }
                        if (i >= WARM) {
                            ms.add((t1 - t0) / 1e6);
                        }
                    }
                    ms.sort(Double::compare);
                    Timing t = new Timing(ms.get(ms.size() / 2), ms.getLast());
                    out.put(page.name(), t);
                    IssuanceBench.progress(String.format(Locale.ROOT, "%,d certificates: %-32s median %6.1f ms, slowest %6.1f ms", n, page.name(), t.p50(), t.max()));
                }
                return out;
            } finally {
                p.destroy();
                p.waitFor();
            }
        } finally {
            IssuanceBench.deleteTree(home);
        }
    }

    /** Fills the store; returns a device in the middle of the id order and the serial of one of its really issued certificates. */
    static String[] fill(Fleet f, Path home, int n) throws Exception {
        Actor op = Actor.operator("bench");
        Instant now = Instant.now();
        int chunk = 10_000;
        for (int from = 0; from < n; from += chunk) {
            List<Device> devices = new ArrayList<>(chunk);
            List<AuditEvent> events = new ArrayList<>(chunk);
            for (int i = from; i < Math.min(n, from + chunk); i++) {
                String id = String.format(Locale.ROOT, "dev-%07d", i);
                devices.add(new Device(id, i % 3 == 0 ? "camera" : "sensor", Map.of(), Device.Status.ACTIVE, "secure-element", now));
                events.add(new AuditEvent(now, op, AuditAction.DEVICE_ADD, "device:" + id, Map.of("model", i % 3 == 0 ? "camera" : "sensor")));
            }
            f.store().devices().addDevices(devices, List.of(), events);
            if ((from / chunk) % 20 == 19) {
                IssuanceBench.progress(String.format(Locale.ROOT, "%,d / %,d devices registered", from + chunk, n));
            }
        }
        // the middle device gets really issued certificates; so do 199 others spread through the id order
        int middle = n / 2;
        KeyPair kp = KeyAlgorithm.EC_P256.generate();
        var signer = new JcaContentSignerBuilder("SHA256withECDSA").build(kp.getPrivate());
        IssuedCertificate template = null;
        String serial = null;
        for (int k = 0; k < ISSUED; k++) {
            int i = k == 0 ? middle : (int) ((long) k * n / ISSUED);
            String id = String.format(Locale.ROOT, "dev-%07d", i);
            byte[] csr = new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=" + id), kp.getPublic()).build(signer).getEncoded();
            IssuedCertificate c = f.pipeline().issue(IssuanceRequest.fromCsr(UntrustedCsr.parse(csr), id, "device", "bench"),
                    f.authorizer().operator(op, id, "device", "bench"));
            if (k == 0) {
                template = c;
                serial = c.serialHex();
            }
        }
        IssuanceBench.progress(String.format(Locale.ROOT, "%d certificates issued; writing %,d more certificate rows", ISSUED, n - ISSUED));
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + home.resolve("fleetpki.db"))) {
            c.setAutoCommit(false);
            try (PreparedStatement res = c.prepareStatement("INSERT INTO serial_reservation (serial, reserved_at) VALUES (?, ?)");
                 PreparedStatement cert = c.prepareStatement("INSERT INTO certificate (serial, ca, device_id, profile, subject, not_before, not_after, der, "
                         + "proof_of_possession, issued_by, issued_at, protocol, revoked_at, revocation_reason) "
                         + "VALUES (?, 'issuing', ?, 'device', ?, ?, ?, ?, 1, 'operator:bench', ?, 'est', ?, ?)")) {
                long day = 86_400_000L;
                long t = now.toEpochMilli();
                int rows = 0;
                for (int i = 0; i < n && rows < n - ISSUED; i++) {
                    if (i == middle || i % (n / ISSUED) == 0 && i / (n / ISSUED) < ISSUED) {
                        continue;
                    }
                    String s = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(("bench " + i).getBytes(StandardCharsets.US_ASCII)), 0, 16);
                    String id = String.format(Locale.ROOT, "dev-%07d", i);
                    long issued = t - (i % 365) * day - (i % 1000) * 60_000L;
                    res.setString(1, s);
                    res.setLong(2, issued);
                    res.addBatch();
                    cert.setString(1, s);
                    cert.setString(2, id);
                    cert.setString(3, "CN=" + id);
                    cert.setLong(4, issued - 300_000L);
                    cert.setLong(5, t + (i % 400) * day + day);
                    cert.setBytes(6, template.der());
                    cert.setLong(7, issued);
                    if (i % 200 == 7) {
                        cert.setLong(8, t - (i % 30) * day);
                        cert.setString(9, "SUPERSEDED");
                    } else {
                        cert.setNull(8, java.sql.Types.BIGINT);
                        cert.setNull(9, java.sql.Types.VARCHAR);
                    }
                    cert.addBatch();
                    if (++rows % 50_000 == 0) {
                        res.executeBatch();
                        cert.executeBatch();
                        IssuanceBench.progress(String.format(Locale.ROOT, "%,d / %,d certificate rows", rows, n - ISSUED));
                    }
                }
                res.executeBatch();
                cert.executeBatch();
            }
            try (var st = c.createStatement()) {
                st.executeUpdate("UPDATE device SET status = 'DISABLED' WHERE CAST(substr(id, 5) AS INTEGER) % 100 = 3");
                st.executeUpdate("UPDATE device SET status = 'REVOKED' WHERE CAST(substr(id, 5) AS INTEGER) % 200 = 7");
            }
            c.commit();
        }
        // requests kept for an operator
        for (int k = 0; k < 20; k++) {
            String id = String.format(Locale.ROOT, "gw-%03d", k);
            byte[] csr = new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=" + id), kp.getPublic()).build(signer).getEncoded();
            String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(csr));
            Instant at = Instant.now();
            byte[] rid = new byte[8];
            new java.security.SecureRandom().nextBytes(rid);
            f.store().requests().addRequest(new EnrollmentRequest(HexFormat.of().formatHex(rid), id, "device", csr, sha, EnrollmentRequest.Status.PENDING,
                    "manufacturer", Actor.parse("device:" + id), "est", at, null, null, null, null),
                    new AuditEvent(at, Actor.parse("device:" + id), AuditAction.REQUEST_PENDING, "device:" + id, Map.of()));
        }
        return new String[] {String.format(Locale.ROOT, "dev-%07d", middle), serial};
    }
}
