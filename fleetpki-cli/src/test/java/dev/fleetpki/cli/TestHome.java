package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Writes a CA home with a fleetpki.yaml for tests. */
public final class TestHome {
    private TestHome() {}

    public static Path write(Path home, String algorithm, String extraCeremony, String profiles) throws IOException {
        return write(home, algorithm, "jdbc:sqlite:fleetpki.db", extraCeremony, profiles);
    }

    public static Path write(Path home, String algorithm, String storeUrl, String extraCeremony, String profiles) throws IOException {
        Files.createDirectories(home.resolve("secrets"));
        Files.writeString(home.resolve("secrets/passphrase"), "test passphrase for fleetpki\n");
        String yaml = """
                store:
                  url: %s
                passphrase: file:secrets/passphrase
                urls:
                  crl: http://pki.test/crl/{ca}.crl
                  ocsp: http://pki.test/ocsp
                  caIssuers: http://pki.test/ca/{ca}.crt
                ceremony:
                  root:
                    subject: "CN=Test Root CA,O=fleetpki test"
                    algorithm: %s
                  issuing:
                    - name: issuing
                      subject: "CN=Test Issuing CA,O=fleetpki test"
                      algorithm: %s
                %s
                profiles:
                  server-tls:
                    dnsSuffixes: [fleet.example]
                %s
                """.formatted(storeUrl, algorithm, algorithm, indent(extraCeremony), indent(profiles));
        Files.writeString(home.resolve("fleetpki.yaml"), yaml);
        return home;
    }

    private static String indent(String s) {
        return s == null ? "" : s.indent(2);
    }

    public static void init(Path home) {
        Cli.Result r = Cli.run(home, "init");
        assertThat(r.exit()).as(r.all()).isZero();
    }

    public static final String SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so";

    /**
     * A fresh SoftHSM2 token (user PIN 1234) with its store in {@code dir/tokens}; returns the
     * environment that points SoftHSM at it (it reads SOFTHSM2_CONF, so token work runs in a child process).
     */
    /**
     * A test home whose issuing CA key is made in the SoftHSM2 token labelled {@code fleet} (object
     * issuing-2026, PIN 1234 in pin.txt); returns the environment that finds the token.
     */
    public static java.util.Map<String, String> withIssuingKeyOnToken(Path home) throws IOException {
        java.util.Map<String, String> env = softHsmToken(home, "fleet");
        Files.writeString(home.resolve("pin.txt"), "1234\n");
        write(home, "ecdsa-p256", null, null);
        Files.writeString(home.resolve("fleetpki.yaml"), Files.readString(home.resolve("fleetpki.yaml")).replace("      algorithm: ecdsa-p256\n",
                "      algorithm: ecdsa-p256\n      key: \"pkcs11:token=fleet;object=issuing-2026?module-path=" + SOFTHSM_MODULE
                        + "&pin-source=file:pin.txt\"\n"));
        return env;
    }

    public static java.util.Map<String, String> softHsmToken(Path dir, String label) throws IOException {
        assertThat(Path.of(SOFTHSM_MODULE)).as("SoftHSM2 (apt-get install softhsm2)").exists();
        Path conf = dir.resolve("softhsm2.conf");
        Files.writeString(conf, "directories.tokendir = " + Files.createDirectories(dir.resolve("tokens")) + "\nobjectstore.backend = file\nlog.level = ERROR\n");
        java.util.Map<String, String> env = java.util.Map.of("SOFTHSM2_CONF", conf.toString());
        Proc.Result init = Proc.run(dir, env, "softhsm2-util", "--init-token", "--free", "--label", label, "--pin", "1234", "--so-pin", "5678");
        assertThat(init.exit()).as(init.output()).isZero();
        return env;
    }

    /** Makes a key and CSR with openssl; returns the CSR path. */
    public static Path opensslCsr(Path dir, String name, String newkey, String subject, String... extra) {
        Path key = dir.resolve(name + ".key");
        Path csr = dir.resolve(name + ".csr");
        java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of("openssl", "req", "-new", "-newkey", newkey, "-nodes",
                "-keyout", key.toString(), "-out", csr.toString(), "-subj", subject));
        cmd.addAll(java.util.List.of(extra));
        Proc.ok(dir, cmd.toArray(new String[0]));
        return csr;
    }

    /**
     * What a TLS server of the fleet needs in {@code work}: ca.pem (root + issuing, to check client
     * chains) and server.crt/server.key from the server-tls profile for {@code name}, which is also
     * a DNS name in it; {@code sans} adds more (e.g. "IP:127.0.0.1" for clients that reach it by address).
     */
    public static void serverCertificate(Path home, Path work, String name, String... sans) throws IOException {
        Files.writeString(work.resolve("ca.pem"), Files.readString(home.resolve("ca/root.pem")) + Files.readString(home.resolve("ca/issuing.pem")));
        assertThat(Cli.run(home, "device", "add", name).exit()).isZero();
        java.util.List<String> extra = new java.util.ArrayList<>(java.util.List.of("-pkeyopt", "ec_paramgen_curve:P-256"));
        if (sans.length > 0) {
            extra.addAll(java.util.List.of("-addext", "subjectAltName=DNS:" + name + "," + String.join(",", sans)));
        }
        Path csr = opensslCsr(work, "server", "ec", "/CN=" + name, extra.toArray(new String[0]));
        Cli.Result signed = Cli.run(home, "sign", "--csr", csr.toString(), "--device", name, "--profile", "server-tls", "--out",
                work.resolve("server.crt").toString());
        assertThat(signed.exit()).as(signed.all()).isZero();
    }

    /** The fleet's CRL bundle (issuing + root), freshly generated, as the servers' refresh loop writes it (docs/revocation.md). */
    public static void exportCrls(Path home, Path bundle) {
        Cli.Result r = Cli.run(home, "crl", "export", "--bundle", "--out", bundle.toString(), "--generate");
        assertThat(r.exit()).as(r.all()).isZero();
    }
}
