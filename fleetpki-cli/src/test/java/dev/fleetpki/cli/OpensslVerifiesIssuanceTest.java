package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.kms.Crypto;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * For every CA algorithm: the ceremony runs, and a certificate of every device-facing profile is
 * issued for an openssl-made CSR and verified by {@code openssl verify} against root and issuing CA
 * (ML-DSA-65, which the machine's openssl 3.0 does not know, is verified by Java PKIX with BouncyCastle).
 */
class OpensslVerifiesIssuanceTest {
    @TempDir Path home;

    @ParameterizedTest(name = "ca/{0}")
    @ValueSource(strings = {"ecdsa-p256", "ecdsa-p384", "ed25519", "rsa-2048", "rsa-3072", "rsa-4096", "ml-dsa-65"})
    void everyProfileVerifies(String algorithm) throws Exception {
        TestHome.write(home, algorithm, """
                ocsp:
                  subject: "CN=Test OCSP Signer,O=fleetpki test"
                  algorithm: %s
                codeSigning:
                  subject: "CN=Test Code Signing CA,O=fleetpki test"
                  algorithm: %s
                """.formatted(algorithm, algorithm), null);
        TestHome.init(home);
        Path root = home.resolve("ca/root.pem");
        Path issuing = home.resolve("ca/issuing.pem");
        boolean opensslKnows = !algorithm.startsWith("ml-dsa");
        if (opensslKnows) {
            // the OCSP signer chains to the issuing CA, the code-signing CA to the root
            Proc.ok(home, Proc.opensslVerify(root, issuing, home.resolve("ca/ocsp.pem")).toArray(new String[0]));
            Proc.ok(home, "openssl", "verify", "-CAfile", root.toString(), home.resolve("ca/code-signing.pem").toString());
        }

        record Case(String profile, String device, String subject, String[] extra, Path caCert, String purpose) {}
        List<Case> cases = List.of(
                new Case("device", "sensor-1", "/CN=sensor-1", new String[0], issuing, "sslclient"),
                new Case("device-peer", "sensor-2", "/CN=sensor-2", new String[0], issuing, "sslserver"),
                new Case("server-tls", "gw.fleet.example", "/CN=gw.fleet.example",
                        new String[] {"-addext", "subjectAltName=DNS:gw.fleet.example,DNS:mqtt.fleet.example,IP:10.0.0.7"}, issuing, "sslserver"),
                new Case("code-signing", "signer-1", "/CN=signer-1", new String[0], home.resolve("ca/code-signing.pem"), null),
                new Case("cloud-verification", null, "/CN=0A1B2C3D4E5F", new String[0], issuing, null));
        for (Case c : cases) {
            if (c.device() != null && !c.profile().equals("code-signing")) {
                assertThat(Cli.run(home, "device", "add", c.device()).exit()).isZero();
            }
            String[] csrExtra = new String[c.extra().length + 2];
            csrExtra[0] = "-pkeyopt";
            csrExtra[1] = "ec_paramgen_curve:P-256";
            System.arraycopy(c.extra(), 0, csrExtra, 2, c.extra().length);
            Path csr = TestHome.opensslCsr(home, c.profile(), "ec", c.subject(), csrExtra);
            Path leaf = home.resolve(c.profile() + ".crt");
            Cli.Result r = c.profile().equals("code-signing") // a firmware signer, not a device: fleetpki holds its key, no CSR
                    ? Cli.run(home, "signer", "add", c.device(), "--key", "file:signers/" + c.device() + ".p8", "--create", "--models", "*",
                            "--out", leaf.toString())
                    : c.device() != null
                    ? Cli.run(home, "sign", "--csr", csr.toString(), "--device", c.device(), "--profile", c.profile(), "--out", leaf.toString())
                    : Cli.run(home, "sign", "--csr", csr.toString(), "--profile", c.profile(), "--registration-code", "0A1B2C3D4E5F",
                            "--out", leaf.toString());
            assertThat(r.exit()).as(c.profile() + ": " + r.all()).isZero();
            assertThat(r.out()).startsWith(c.profile().equals("code-signing") ? "Created signer" : "-----BEGIN CERTIFICATE-----");
            List<X509Certificate> chain = parse(Files.readAllBytes(leaf));
            assertThat(chain).as("leaf then its CA, without the root").hasSize(2);
            assertThat(chain.get(1).getSubjectX500Principal()).isEqualTo(parse(Files.readAllBytes(c.caCert())).getFirst().getSubjectX500Principal());
            if (opensslKnows) {
                List<String> cmd = new java.util.ArrayList<>(Proc.opensslVerify(root, c.caCert(), leaf));
                if (c.purpose() != null) {
                    cmd.addAll(2, List.of("-purpose", c.purpose()));
                }
                assertThat(Proc.ok(home, cmd.toArray(new String[0]))).contains(": OK");
            } else {
                pkixValidate(parse(Files.readAllBytes(root)).getFirst(), chain);
                // and by a verifier that is not BouncyCastle: the JDK's own X.509 path validation and ML-DSA (JEP 497)
                pkixValidateJdk(parse(Files.readAllBytes(root)).getFirst(), chain);
            }
        }
        String text = Proc.ok(home, "openssl", "x509", "-in", home.resolve("server-tls.crt").toString(), "-noout", "-ext", "subjectAltName");
        assertThat(text).contains("DNS:gw.fleet.example").contains("DNS:mqtt.fleet.example").contains("IP Address:10.0.0.7");
        // a peer verifies a device-peer certificate as a TLS server: by a DNS name, which Go and browsers require (RFC 9525 6.3)
        String peer = Proc.ok(home, "openssl", "x509", "-in", home.resolve("device-peer.crt").toString(), "-noout", "-ext", "subjectAltName");
        assertThat(peer).contains("DNS:sensor-2");
        if (opensslKnows) {
            List<String> cmd = new java.util.ArrayList<>(Proc.opensslVerify(root, issuing, home.resolve("device-peer.crt")));
            cmd.addAll(2, List.of("-purpose", "sslserver", "-verify_hostname", "sensor-2"));
            assertThat(Proc.ok(home, cmd.toArray(new String[0]))).contains(": OK");
        }
    }

    static List<X509Certificate> parse(byte[] pem) throws Exception {
        return CertificateFactory.getInstance("X.509").generateCertificates(new ByteArrayInputStream(pem)).stream()
                .map(c -> (X509Certificate) c).toList();
    }

    /** PKIX validation by the JDK's SUN provider alone: its certificate parser, path validator and signature (ML-DSA since JDK 24). */
    static void pkixValidateJdk(X509Certificate root, List<X509Certificate> chain) throws Exception {
        CertificateFactory cf = CertificateFactory.getInstance("X.509", "SUN");
        List<java.security.cert.Certificate> reparsed = new java.util.ArrayList<>();
        for (X509Certificate c : chain) {
            reparsed.add(cf.generateCertificate(new ByteArrayInputStream(c.getEncoded())));
        }
        X509Certificate anchor = (X509Certificate) cf.generateCertificate(new ByteArrayInputStream(root.getEncoded()));
        PKIXParameters params = new PKIXParameters(Set.of(new TrustAnchor(anchor, null)));
        params.setRevocationEnabled(false);
        params.setSigProvider("SUN");
        CertPathValidator.getInstance("PKIX", "SUN").validate(cf.generateCertPath(reparsed), params);
    }

    static void pkixValidate(X509Certificate root, List<X509Certificate> chain) throws Exception {
        CertificateFactory cf = CertificateFactory.getInstance("X.509", Crypto.bc());
        PKIXParameters params = new PKIXParameters(Set.of(new TrustAnchor(root, null)));
        params.setRevocationEnabled(false);
        CertPathValidator.getInstance("PKIX", Crypto.bc()).validate(cf.generateCertPath(chain), params);
    }
}
