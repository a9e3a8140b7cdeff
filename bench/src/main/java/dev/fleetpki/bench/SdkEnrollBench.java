package dev.fleetpki.bench;

import dev.fleetpki.device.EstClient;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import javax.security.auth.x500.X500Principal;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;

/**
 * The Java SDK's half of bench/run-c-client: the same work per device as {@code fpest bench} does
 * with libfleetpki-est — a new P-256 key, a CSR with CN = the device id, {@code simpleenroll} with
 * the device's one-time secret over a new TLS connection (the SDK's {@link EstClient} makes a new
 * HTTP client per enrollment), then the answer checked: the device's key, its subject, a chain to the
 * pinned root through the CA certificates fetched once at the start.
 *
 * <pre>SdkEnrollBench BASE_URL ROOT.pem DEVICES_FILE   (lines: id secret)</pre>
 * Prints "enrolled N devices in S s: R enrollments/s".
 */
public final class SdkEnrollBench {
    private SdkEnrollBench() {}

    public static void main(String[] args) throws Exception {
        URI base = URI.create(args[0] + "/.well-known/est");
        X509Certificate root = (X509Certificate) CertificateFactory.getInstance("X.509")
                .generateCertificate(new ByteArrayInputStream(Files.readAllBytes(Path.of(args[1]))));
        List<String[]> devices = Files.readAllLines(Path.of(args[2])).stream().filter(l -> !l.isBlank()).map(l -> l.trim().split("\\s+")).toList();
        EstClient est = new EstClient(base, root, Duration.ofSeconds(10));
        List<X509Certificate> cas = est.cacerts(); // once, as fpest does at its start
        PKIXParameters params = new PKIXParameters(Set.of(new TrustAnchor(root, null)));
        params.setRevocationEnabled(false);
        CertPathValidator validator = CertPathValidator.getInstance("PKIX");
        CertificateFactory cf = CertificateFactory.getInstance("X.509");
        KeyPairGenerator gen = KeyPairGenerator.getInstance("EC");
        gen.initialize(new ECGenParameterSpec("secp256r1"));

        long start = System.nanoTime();
        for (String[] d : devices) {
            KeyPair kp = gen.generateKeyPair();
            byte[] csr = new JcaPKCS10CertificationRequestBuilder(new X500Principal("CN=" + d[0]), kp.getPublic())
                    .build(new JcaContentSignerBuilder("SHA256withECDSA").build(kp.getPrivate())).getEncoded();
            EstClient.Answer a = new EstClient(base, root, Duration.ofSeconds(10)).simpleenroll(csr, d[0], d[1].toCharArray());
            X509Certificate leaf = a.certificates().stream().filter(c -> c.getPublicKey().equals(kp.getPublic())).findFirst()
                    .orElseThrow(() -> new IllegalStateException(d[0] + ": the answer certifies another key"));
            if (!leaf.getSubjectX500Principal().equals(new X500Principal("CN=" + d[0]))) {
                throw new IllegalStateException(d[0] + ": the answer names another subject");
            }
            List<X509Certificate> path = new ArrayList<>(List.of(leaf));
            path.addAll(cas.stream().filter(c -> !c.equals(root)).toList());
            validator.validate(cf.generateCertPath(path), params);
        }
        double s = (System.nanoTime() - start) / 1e9;
        System.out.printf(Locale.ROOT, "enrolled %d devices in %.3f s: %.1f enrollments/s (one TLS connection each)%n", devices.size(), s,
                devices.size() / s);
    }
}
