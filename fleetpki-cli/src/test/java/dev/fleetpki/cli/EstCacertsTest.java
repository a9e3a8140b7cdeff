package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** EST cacerts and csrattrs (RFC 7030 4.1, 4.5) with the plain curl + openssl client of docs/est.md. */
class EstCacertsTest {
    @TempDir
    Path dir;

    private String asn1(String url, Path root) {
        Proc.Result r = Proc.run(dir, Map.of(), "sh", "-c", "curl -sS --fail --cacert " + root + " " + url + " | openssl base64 -d | openssl asn1parse -inform DER");
        assertThat(r.exit()).as(url + ": " + r.output()).isZero();
        return r.output();
    }

    @Test
    void curlAndOpensslReadTheCaCertificatesPerLabel() throws Exception {
        try (TestServer ts = TestServer.start(dir, """
                ed-devices:
                  kind: device
                  keyAlgorithms: [ed25519]
                rsa-devices:
                  kind: device
                  keyAlgorithms: [rsa-3072, rsa-4096]
                """)) {
            Path root = dir.resolve("root.pem");
            Files.writeString(root, Cli.run(ts.home, "export", "trust-bundle", "--root-only").out());
            String base = ts.base + "/.well-known/est";
            for (String path : new String[] {"/cacerts", "/device/cacerts", "/server-tls/cacerts"}) {
                Proc.Result r = Proc.run(dir, Map.of(), "sh", "-c", "curl -sS --fail --cacert " + root + " " + base + path
                        + " | openssl base64 -d | openssl pkcs7 -inform DER -print_certs -noout");
                assertThat(r.exit()).as(path + ": " + r.output()).isZero();
                assertThat(r.output()).as(path).contains("subject=O = fleetpki test, CN = Test Issuing CA")
                        .contains("subject=O = fleetpki test, CN = Test Root CA");
            }
            Proc.Result headers = Proc.run(dir, Map.of(), "curl", "-sS", "-o", "/dev/null", "-D", "-", "--cacert", root.toString(), base + "/cacerts");
            assertThat(headers.output()).containsIgnoringCase("Content-Type: application/pkcs7-mime; smime-type=certs-only");
            // csrattrs: the key and signature algorithm each profile wants
            String p256 = asn1(base + "/csrattrs", root);
            assertThat(p256).contains("id-ecPublicKey").contains("prime256v1").contains("ecdsa-with-SHA256");
            assertThat(asn1(base + "/ed-devices/csrattrs", root)).contains("ED25519").doesNotContain("id-ecPublicKey");
            String rsa = asn1(base + "/rsa-devices/csrattrs", root);
            assertThat(rsa).contains("rsaEncryption").contains("INTEGER           :0C00").contains("sha256WithRSAEncryption");
            Proc.Result type = Proc.run(dir, Map.of(), "curl", "-sS", "-o", "/dev/null", "-D", "-", "--cacert", root.toString(), base + "/csrattrs");
            assertThat(type.output()).containsIgnoringCase("Content-Type: application/csrattrs");

            Proc.Result unknown = Proc.run(dir, Map.of(), "curl", "-sS", "-w", "%{http_code}", "--cacert", root.toString(), base + "/factory-9/cacerts");
            assertThat(unknown.output()).contains("no EST label 'factory-9'").endsWith("404");
        }
    }
}
