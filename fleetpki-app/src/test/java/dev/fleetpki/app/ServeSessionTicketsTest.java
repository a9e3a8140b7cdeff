package dev.fleetpki.app;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.cli.Cli;
import dev.fleetpki.cli.Proc;
import dev.fleetpki.cli.TestHome;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code fleetpki serve} sends no TLS 1.3 session ticket unless {@code --tls-session-tickets} asks
 * for one (OpenSSL's client traces every handshake message it receives), and TLS 1.2 clients can
 * resume either way.
 */
class ServeSessionTicketsTest {
    static final String HOST = "pki.fleet.example";

    @TempDir
    Path dir;

    @Test
    void serveSendsASessionTicketOnlyWhenAskedTo() throws Exception {
        Path home = TestHome.write(dir.resolve("home"), "ecdsa-p256", null, null);
        TestHome.init(home);
        Path root = dir.resolve("root.pem");
        Files.writeString(root, Cli.run(home, "export", "trust-bundle", "--root-only").out());

        String plain = handshake(home, root);
        assertThat(plain).doesNotContain("NewSessionTicket");
        // a TLS 1.2 client still resumes (by session id), and no connection fails
        assertThat(plain).contains("Reused, TLSv1.2").doesNotContain(":error:");

        // control: the same client, the same server asked to send tickets, sees one
        String asked = handshake(home, root, "--tls-session-tickets");
        assertThat(asked).contains("NewSessionTicket").contains("Reused, TLSv1.2").doesNotContain(":error:");
    }

    /** Starts serve, has openssl s_client complete a TLS 1.3 handshake and a request, and returns its trace. */
    private String handshake(Path home, Path root, String... options) throws Exception {
        int port = Proc.freePort();
        List<String> args = new ArrayList<>(List.of("serve", "--home", home.toString(), "--port", String.valueOf(port), "--http-port", "-1",
                "--hostname", HOST));
        args.addAll(List.of(options));
        Process p = new ProcessBuilder(Proc.java(List.of(), Main.class, args.toArray(new String[0]))).redirectErrorStream(true).start();
        try {
            List<String> lines = Proc.awaitLine(p, "fleetpki serving https://");
            assertThat(String.join("\n", lines)).contains("fleetpki serving https://127.0.0.1:" + port + "/");
            Proc.Result r = Proc.run(dir, Map.of(), "sh", "-c", "printf 'GET /healthz HTTP/1.1\\r\\nHost: " + HOST
                    + "\\r\\nConnection: close\\r\\n\\r\\n' | openssl s_client -connect 127.0.0.1:" + port + " -servername " + HOST
                    + " -tls1_3 -CAfile " + root + " -verify_return_error -msg -ign_eof");
            // the server's answer came after the point where a ticket is sent: the trace covers it
            assertThat(r.output()).as(r.output()).contains("Verify return code: 0 (ok)").contains("{\"status\":\"ok\"}")
                    .contains("Finished");
            // a TLS 1.2 client connecting five more times with the session it got
            Proc.Result again = Proc.run(dir, Map.of(), "sh", "-c", "openssl s_client -connect 127.0.0.1:" + port + " -servername " + HOST
                    + " -tls1_2 -CAfile " + root + " -verify_return_error -reconnect < /dev/null");
            return r.output() + again.output();
        } finally {
            Proc.stop(p);
        }
    }
}
