package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The plain curl + openssl client of docs/est.md and docs/rest.md against a running test server:
 * CSRs made by openssl, requests sent by curl with whatever credential flags a test passes.
 */
final class EstCurl {
    /** curl's answer: the status code and the body. */
    record Http(int status, String body) {}

    private final Path dir;
    private final Path root;
    private final String base;

    /** @param root the fleet root (PEM) curl trusts; {@code base} is {@code https://127.0.0.1:PORT} */
    EstCurl(Path dir, Path root, String base) {
        this.dir = dir;
        this.root = root;
        this.base = base;
    }

    static EstCurl of(TestServer ts, Path dir) throws IOException {
        Path root = dir.resolve("root.pem");
        Files.writeString(root, Cli.run(ts.home, "export", "trust-bundle", "--root-only").out());
        return new EstCurl(dir, root, ts.base);
    }

    Path root() {
        return root;
    }

    /** A new P-256 key ({@code name.key}) and a CSR for it as PEM ({@code name.csr}); {@code extra} goes to openssl req (-addext ...). */
    Path csrPem(String name, String cn, String... extra) {
        List<String> args = new ArrayList<>(List.of("-pkeyopt", "ec_paramgen_curve:P-256"));
        args.addAll(List.of(extra));
        return TestHome.opensslCsr(dir, name, "ec", "/CN=" + cn, args.toArray(new String[0]));
    }

    /** The same CSR as EST sends it: base64 DER. */
    Path csr(String name, String cn, String... extra) {
        Path pem = csrPem(name, cn, extra);
        Path b64 = dir.resolve(name + ".b64");
        Proc.ok(dir, "sh", "-c", "openssl req -in " + pem + " -outform DER | openssl base64 > " + b64);
        return b64;
    }

    /** An EST POST of a base64 CSR to {@code /.well-known/est<path>}. */
    Http est(String path, Path body, String... auth) {
        return estTyped(path, body, "application/pkcs10", auth);
    }

    /** The same with another Content-Type (to see it refused). */
    Http estTyped(String path, Path body, String contentType, String... auth) {
        return curl("-H 'Content-Type: " + contentType + "' --data-binary @" + body, auth, "/.well-known/est" + path);
    }

    /** A REST call: {@code json} is the body (null: none; then a GET unless {@code method} says otherwise). */
    Http rest(String method, String path, String json, String... auth) {
        String data = "";
        if (json != null) {
            Path body = dir.resolve("body-" + System.nanoTime() + ".json");
            write(body, json);
            data = "-H 'Content-Type: application/json' --data-binary @" + body;
        }
        return curl("-X " + method + " " + data, auth, path);
    }

    private Http curl(String args, String[] auth, String path) {
        Path out = dir.resolve("out-" + System.nanoTime());
        StringBuilder cmd = new StringBuilder("curl -sS -o " + out + " -w '%{http_code}' --cacert " + root + " " + args);
        for (String a : auth) {
            cmd.append(' ').append(a);
        }
        cmd.append(' ').append(base).append(path);
        Proc.Result r = Proc.run(dir, Map.of(), "sh", "-c", cmd.toString());
        assertThat(r.exit()).as(r.output()).isZero();
        try {
            return new Http(Integer.parseInt(r.output().trim()), Files.exists(out) ? Files.readString(out) : "");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The certificate of a 200 certs-only answer, written as PEM to {@code file}; returns openssl's text of it. */
    String certificate(Http h, String file) {
        assertThat(h.status()).as(h.body()).isEqualTo(200);
        Path p7 = dir.resolve(file + ".p7");
        write(p7, h.body());
        Proc.ok(dir, "sh", "-c", "openssl base64 -d -in " + p7 + " | openssl pkcs7 -inform DER -print_certs -out " + dir.resolve(file));
        return Proc.ok(dir, "openssl", "x509", "-in", dir.resolve(file).toString(), "-noout", "-text");
    }

    /** curl flags presenting {@code cert} ({@code X.pem}, its key in {@code X.key}) as the TLS client certificate. */
    static String tls(Path cert) {
        return "--cert " + cert + " --key " + cert.toString().replace(".pem", ".key");
    }

    /** A self-signed certificate and key made by openssl: {@code name.pem}, {@code name.key}. */
    Path selfSigned(String name, String subject) {
        Path cert = dir.resolve(name + ".pem");
        Proc.ok(dir, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "30",
                "-keyout", dir.resolve(name + ".key").toString(), "-out", cert.toString(), "-subj", subject);
        return cert;
    }

    private static void write(Path p, String text) {
        try {
            Files.writeString(p, text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
