package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.core.CertificateAuthority;
import dev.fleetpki.core.revocation.OcspResponder;
import dev.fleetpki.kms.Pem;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Map;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What fleetpki issues, checked by verifiers written independently of it and of each other:
 * OpenSSL, Go's crypto/x509 ({@code conformance/x509verify.go}), GnuTLS ({@code certtool}),
 * pyca/cryptography ({@code conformance/pyca_check.py}) and, for device certificates, Mbed TLS (the
 * C example). For each CA algorithm: every profile,
 * under a plain issuing CA and (server-tls) a name-constrained one, accepted for the purpose and
 * name it is for and rejected for another; the CRLs and an OCSP answer parsed and their signatures
 * checked; and a certificate outside the name constraints, which fleetpki refuses to sign, made
 * here with the CA's key to show that every verifier rejects it.
 */
class ConformanceTest {
    @TempDir static Path dir;
    static Path goVerify;
    static Path pyca;
    static Path mbedtls;

    @BeforeAll
    static void buildVerifiers() throws Exception {
        Path repo = Path.of("").toAbsolutePath().getParent();
        pyca = repo.resolve("conformance/pyca_check.py");
        goVerify = dir.resolve("x509verify");
        // GOPATH mode against Debian's x/crypto (golang-golang-x-crypto-dev): nothing is downloaded
        Proc.Result go = Proc.run(repo, Map.of("GOCACHE", dir.resolve("gocache").toString(), "GOPATH", dir.resolve("gopath") + ":/usr/share/gocode",
                "GO111MODULE", "off"), "go", "build", "-o", goVerify.toString(), "conformance/x509verify.go");
        assertThat(go.exit()).as("Go (apt-get install golang-go golang-golang-x-crypto-dev):\n" + go.output()).isZero();
        mbedtls = dir.resolve("mbedtls-device");
        Proc.Result make = Proc.run(repo.resolve("examples/mbedtls-device"), Map.of(), "make", "-s", "OUT=" + mbedtls);
        assertThat(make.exit()).as("gcc + libmbedtls-dev:\n" + make.output()).isZero();
        assertThat(Proc.run(dir, Map.of(), "certtool", "--version").exit()).as("GnuTLS certtool (apt-get install gnutls-bin)").isZero();
        assertThat(Proc.run(dir, Map.of(), "/usr/bin/python3", "-c", "import cryptography").exit())
                .as("pyca/cryptography (apt-get install python3-cryptography)").isZero();
    }

    /** A leaf to check: its chain file (leaf, issuing CA), what it is for, and a purpose and name it is not for. */
    record Leaf(String profile, Path chain, String eku, String dns, String otherEku, String otherDns) {}

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"ecdsa-p256", "ecdsa-p384", "ed25519", "rsa-2048"})
    void everyVerifierAcceptsWhatFleetpkiIssuesAndRejectsItElsewhere(String algorithm) throws Exception {
        Path home = dir.resolve(algorithm);
        Files.createDirectories(home.resolve("secrets"));
        Files.writeString(home.resolve("secrets/passphrase"), "conformance passphrase\n");
        Files.writeString(home.resolve("fleetpki.yaml"), """
                passphrase: file:secrets/passphrase
                urls:
                  crl: http://pki.fleet.example/crl/{ca}.crl
                  ocsp: http://pki.fleet.example/ocsp
                ceremony:
                  root: {subject: "CN=Conformance Root,O=fleetpki test", algorithm: %1$s}
                  issuing:
                    - {name: issuing, subject: "CN=Conformance Issuing,O=fleetpki test", algorithm: %1$s}
                    - name: servers
                      subject: "CN=Conformance Servers,O=fleetpki test"
                      algorithm: %1$s
                      nameConstraints: {permittedDns: [fleet.example]}
                  ocsp: {subject: "CN=Conformance OCSP,O=fleetpki test", algorithm: %1$s}
                  codeSigning: {subject: "CN=Conformance Code Signing,O=fleetpki test", algorithm: %1$s}
                profiles:
                  server-tls: {issuer: servers, dnsSuffixes: [fleet.example]}
                """.formatted(algorithm));
        TestHome.init(home);
        Path root = home.resolve("ca/root.pem");
        String newkey = switch (algorithm) {
            case "ecdsa-p384" -> "ec -pkeyopt ec_paramgen_curve:P-384";
            case "ed25519" -> "ed25519";
            case "rsa-2048" -> "rsa:2048";
            default -> "ec -pkeyopt ec_paramgen_curve:P-256";
        };
        List<Leaf> leaves = new ArrayList<>();
        leaves.add(new Leaf("device", issue(home, "device", "sensor-1", "/CN=sensor-1", newkey, null), "client", "", "server", null));
        leaves.add(new Leaf("device-peer", issue(home, "device-peer", "peer-1", "/CN=peer-1", newkey, null), "server", "peer-1", "code", "peer-2"));
        leaves.add(new Leaf("server-tls", issue(home, "server-tls", "gw.fleet.example", "/CN=gw.fleet.example", newkey, null,
                "-addext", "subjectAltName=DNS:gw.fleet.example,DNS:mqtt.fleet.example"), "server", "mqtt.fleet.example", "client", "gw.other.example"));
        leaves.add(new Leaf("code-signing", signer(home, "signer-1", algorithm), "code", "", "server", null));
        leaves.add(new Leaf("cloud-verification", issueForCode(home, "ABCDEF0123456789", newkey), "client", "", "server", null));
        // a device under the constrained CA: its id a host name inside the constraints (docs/ceremony.md)
        leaves.add(new Leaf("device under constraints", issue(home, "device", "sensor-2.fleet.example", "/CN=sensor-2.fleet.example", newkey,
                "servers"), "client", "", "server", null));

        for (Leaf l : leaves) {
            String what = algorithm + " " + l.profile();
            assertThat(go(root, l.chain(), l.dns(), l.eku())).as(what + ": Go").startsWith("OK");
            assertThat(gnutls(root, l.chain(), l.dns(), l.eku())).as(what + ": GnuTLS").isZero();
            assertThat(openssl(home, root, l.chain(), l.dns(), l.eku())).as(what + ": openssl").contains(": OK");
            assertThat(run(home, "/usr/bin/python3", pyca.toString(), "chain", root.toString(), l.chain().toString()).output())
                    .as(what + ": pyca").startsWith("OK");
            // the same certificate for what it is not for: every verifier says no
            assertThat(go(root, l.chain(), l.otherDns() == null ? l.dns() : l.otherDns(), l.otherEku())).as(what + " elsewhere: Go").startsWith("FAIL");
            assertThat(gnutls(root, l.chain(), l.otherDns() == null ? l.dns() : l.otherDns(), l.otherEku())).as(what + " elsewhere: GnuTLS").isNotZero();
            assertThat(openssl(home, root, l.chain(), l.otherDns() == null ? l.dns() : l.otherDns(), l.otherEku()))
                    .as(what + " elsewhere: openssl").doesNotContain(": OK");
        }

        // the device's own view: Mbed TLS (2.28 knows no Ed25519 certificates) verifies the chain, the device's name and its key
        if (!algorithm.equals("ed25519")) {
            Proc.Result mbed = run(home, mbedtls.toString(), "verify", leaves.getFirst().chain().toString(), root.toString(), "sensor-1",
                    home.resolve("sensor-1.key").toString());
            assertThat(mbed.exit()).as(algorithm + " device: Mbed TLS\n" + mbed.output()).isZero();
        }

        // CRLs of every CA, parsed and checked by each
        assertThat(Cli.run(home, "crl", "generate").exit()).isZero();
        Path crls = Files.createDirectories(home.resolve("crls"));
        assertThat(Cli.run(home, "crl", "export", "--out", crls.toString()).exit()).isZero();
        for (String ca : List.of("root", "issuing", "servers", "code-signing")) {
            Path crl = crls.resolve(ca + ".crl");
            Path issuer = home.resolve("ca/" + ca + ".pem");
            assertThat(run(home, goVerify.toString(), "crl", "-issuer", issuer.toString(), "-crl", crl.toString()).output()).as(ca + " CRL: Go")
                    .startsWith("OK CRL number");
            Path crlPem = crls.resolve(ca + ".crl.pem"); // certtool's --inder would apply to the CA certificate too
            Files.writeString(crlPem, Pem.encode("X509 CRL", Files.readAllBytes(crl)));
            Proc.Result gnutlsCrl = run(home, "certtool", "--verify-crl", "--load-ca-certificate", issuer.toString(), "--infile", crlPem.toString());
            assertThat(gnutlsCrl.exit()).as(ca + " CRL: GnuTLS\n" + gnutlsCrl.output()).isZero();
            assertThat(gnutlsCrl.output()).contains("Verified");
            assertThat(run(home, "/usr/bin/python3", pyca.toString(), "crl", issuer.toString(), crl.toString()).output()).as(ca + " CRL: pyca")
                    .startsWith("OK CRL number");
            assertThat(run(home, "openssl", "crl", "-inform", "DER", "-in", crl.toString(), "-CAfile", issuer.toString(), "-noout").output())
                    .as(ca + " CRL: openssl").contains("verify OK");
        }

        // an OCSP answer for the device certificate, signed by the delegated signer: pyca and openssl check it
        Path device = leaves.getFirst().chain();
        Path req = home.resolve("ocsp.req");
        Proc.ok(home, "openssl", "ocsp", "-issuer", home.resolve("ca/issuing.pem").toString(), "-cert", device.toString(), "-no_nonce",
                "-reqout", req.toString());
        Path resp = home.resolve("ocsp.resp");
        try (Fleet f = Fleet.open(home, Clock.systemUTC())) {
            OcspResponder.OcspAnswer answer = f.revocation().answer(Files.readAllBytes(req));
            Files.write(resp, answer.der());
        }
        assertThat(run(home, "/usr/bin/python3", pyca.toString(), "ocsp", home.resolve("ca/issuing.pem").toString(), resp.toString()).output())
                .as("OCSP: pyca").isEqualTo("OK GOOD\n");
        String goOcsp = run(home, goVerify.toString(), "ocsp", "-issuer", home.resolve("ca/issuing.pem").toString(), "-resp", resp.toString()).output();
        if (algorithm.equals("ed25519")) { // x/crypto/ocsp 0.4 (Debian 12) implements no Ed25519 signatures: its limit, said in docs
            assertThat(goOcsp).as("OCSP: Go").contains("algorithm unimplemented");
        } else {
            assertThat(goOcsp).as("OCSP: Go").startsWith("OK good");
        }
        assertThat(run(home, "openssl", "ocsp", "-respin", resp.toString(), "-issuer", home.resolve("ca/issuing.pem").toString(), "-CAfile",
                root.toString(), "-cert", device.toString()).output()).as("OCSP: openssl").contains("Response verify OK").contains(": good");

        // a server certificate outside the constrained CA's names, signed here with its key (fleetpki's lint refuses to):
        // every verifier rejects it, as the lint said
        Path outside = home.resolve("outside.pem");
        try (Fleet f = Fleet.open(home, Clock.systemUTC())) {
            CertificateAuthority servers = f.cas().get("servers");
            KeyPair kp = ecKey();
            Instant now = Instant.now().truncatedTo(ChronoUnit.SECONDS);
            var b = new JcaX509v3CertificateBuilder(servers.certificate(), BigInteger.valueOf(now.toEpochMilli()), Date.from(now.minusSeconds(60)),
                    Date.from(now.plus(1, ChronoUnit.DAYS)), new X500Name("CN=gw.other.example"), kp.getPublic());
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
            b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth));
            b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName(GeneralName.dNSName, "gw.other.example")));
            X509CertificateHolder h = b.build(servers.key().contentSigner());
            Files.writeString(outside, Pem.encode("CERTIFICATE", h.getEncoded()) + Files.readString(home.resolve("ca/servers.pem")));
        }
        assertThat(go(root, outside, "gw.other.example", "server")).as("outside the constraints: Go").contains("FAIL");
        assertThat(gnutls(root, outside, "gw.other.example", "server")).as("outside the constraints: GnuTLS").isNotZero();
        assertThat(openssl(home, root, outside, "gw.other.example", "server")).as("outside the constraints: openssl")
                .contains("permitted subtree violation");
    }

    private static KeyPair ecKey() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        return g.generateKeyPair();
    }

    /**
     * Issues with the CLI; returns the chain file (leaf, then its CA).
     *
     * @param ca the CA to sign with instead of the profile's, or null
     * @param extra more openssl req arguments
     */
    private static Path issue(Path home, String profile, String device, String subject, String newkey, String ca, String... extra) {
        assertThat(Cli.run(home, "device", "add", device).exit()).isZero();
        List<String> csrArgs = new ArrayList<>(List.of(newkey.split(" ")).subList(1, newkey.split(" ").length));
        csrArgs.addAll(List.of(extra));
        Path csr = TestHome.opensslCsr(home, device, newkey.split(" ")[0], subject, csrArgs.toArray(new String[0]));
        Path chain = home.resolve(device + ".pem");
        List<String> args = new ArrayList<>(List.of("sign", "--csr", csr.toString(), "--device", device, "--profile", profile, "--out", chain.toString()));
        if (ca != null) {
            args.addAll(List.of("--ca", ca));
        }
        Cli.Result r = Cli.run(home, args.toArray(new String[0]));
        assertThat(r.exit()).as(profile + ": " + r.all()).isZero();
        return chain;
    }

    /** A firmware signer's code-signing certificate, its key made by fleetpki in a file (signers are not devices; no CSR). */
    private static Path signer(Path home, String name, String algorithm) {
        Path chain = home.resolve(name + ".pem");
        Cli.Result r = Cli.run(home, "signer", "add", name, "--key", "file:signers/" + name + ".p8", "--create", "--algorithm", algorithm,
                "--models", "*", "--out", chain.toString());
        assertThat(r.exit()).as("signer: " + r.all()).isZero();
        return chain;
    }

    /** A cloud-verification certificate: CN = the registration code, no device. */
    private static Path issueForCode(Path home, String code, String newkey) {
        List<String> csrArgs = new ArrayList<>(List.of(newkey.split(" ")).subList(1, newkey.split(" ").length));
        Path csr = TestHome.opensslCsr(home, "cv", newkey.split(" ")[0], "/CN=" + code, csrArgs.toArray(new String[0]));
        Path chain = home.resolve("cv.pem");
        Cli.Result r = Cli.run(home, "sign", "--csr", csr.toString(), "--profile", "cloud-verification", "--registration-code", code, "--out",
                chain.toString());
        assertThat(r.exit()).as("cloud-verification: " + r.all()).isZero();
        return chain;
    }

    private static Proc.Result run(Path in, String... cmd) {
        return Proc.run(in, Map.of(), cmd);
    }

    private static String go(Path root, Path chain, String dns, String eku) {
        return run(dir, goVerify.toString(), "chain", "-root", root.toString(), "-chain", chain.toString(), "-dns", dns == null ? "" : dns,
                "-eku", eku).output();
    }

    private static int gnutls(Path root, Path chain, String dns, String eku) {
        List<String> cmd = new ArrayList<>(List.of("certtool", "--verify", "--load-ca-certificate", root.toString(), "--infile", chain.toString()));
        if (dns != null && !dns.isEmpty()) {
            cmd.addAll(List.of("--verify-hostname", dns));
        }
        cmd.addAll(List.of("--verify-purpose", oid(eku)));
        return run(dir, cmd.toArray(new String[0])).exit();
    }

    private static String openssl(Path home, Path root, Path chain, String dns, String eku) {
        List<String> cmd = new ArrayList<>(List.of("openssl", "verify", "-CAfile", root.toString(), "-untrusted", chain.toString()));
        String purpose = switch (eku) {
            case "server" -> "sslserver";
            case "client" -> "sslclient";
            // OpenSSL 3.0 has no code-signing purpose (3.2 adds one): any purpose, the chain and name still checked
            default -> null;
        };
        if (purpose != null) {
            cmd.addAll(List.of("-purpose", purpose));
        }
        if (dns != null && !dns.isEmpty()) {
            cmd.addAll(List.of("-verify_hostname", dns));
        }
        cmd.add(chain.toString());
        return run(home, cmd.toArray(new String[0])).output();
    }

    private static String oid(String eku) {
        return switch (eku) {
            case "server" -> "1.3.6.1.5.5.7.3.1";
            case "client" -> "1.3.6.1.5.5.7.3.2";
            case "code" -> "1.3.6.1.5.5.7.3.3";
            default -> "2.5.29.37.0";
        };
    }
}
