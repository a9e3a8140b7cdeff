package dev.fleetpki.cli;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A real nginx (Debian) standing in for the fleet's HTTPS API, wired as docs/revocation.md shows:
 * TLS with a certificate from the fleet's server-tls profile, client certificates required
 * ({@code ssl_verify_client on}) and chained to the fleet's CAs, fleetpki's CRL bundle as
 * {@code ssl_crl}. Every path answers "hello " and the client certificate's subject.
 * {@link #refreshCrls()} is the operator's refresh loop: export, {@code nginx -s reload}.
 */
final class TestNginx implements AutoCloseable {
    static final String NAME = "api.fleet.example";
    final Path work;
    final int port;
    private final Path home;
    private final Path conf;
    private final Process process;

    /**
     * Uses {@code work}'s ca.pem and server.crt/key when a test made them already, else makes them
     * from the fleet in {@code home} for {@link #NAME} and 127.0.0.1 (so a client can use https://127.0.0.1:port/).
     */
    TestNginx(Path home, Path work) throws Exception {
        this.home = home;
        this.work = Files.createDirectories(work);
        if (!Files.exists(work.resolve("server.crt"))) {
            TestHome.serverCertificate(home, work, NAME, "IP:127.0.0.1");
        }
        port = Proc.freePort();
        conf = work.resolve("nginx.conf");
        Files.writeString(conf, """
                daemon off;
                pid %1$s/nginx.pid;
                error_log %1$s/nginx-error.log info;
                worker_processes 1;
                events {}
                http {
                    access_log off;
                    client_body_temp_path %1$s/tmp;
                    proxy_temp_path %1$s/tmp;
                    fastcgi_temp_path %1$s/tmp;
                    uwsgi_temp_path %1$s/tmp;
                    scgi_temp_path %1$s/tmp;
                    server {
                        listen 127.0.0.1:%2$d ssl;
                        server_name %3$s;
                        ssl_certificate %1$s/server.crt;
                        ssl_certificate_key %1$s/server.key;
                        ssl_client_certificate %1$s/ca.pem;
                        ssl_verify_client on;
                        ssl_verify_depth 2;
                        ssl_crl %1$s/crls.pem;
                        location / { return 200 "hello $ssl_client_s_dn\\n"; }
                    }
                }
                """.formatted(work, port, NAME));
        Files.createDirectories(work.resolve("tmp"));
        TestHome.exportCrls(home, work.resolve("crls.pem"));
        process = new ProcessBuilder(Proc.program("nginx"), "-p", work.toString(), "-c", conf.toString()).redirectErrorStream(true)
                .redirectOutput(work.resolve("nginx.out").toFile()).start();
        Proc.awaitListening(port, work.resolve("nginx-error.log"));
    }

    String errorLog() throws Exception {
        return Files.readString(work.resolve("nginx-error.log"));
    }

    /** Exports the CRLs again and has nginx reload them (new workers take over within moments: callers poll for the effect). */
    void refreshCrls() {
        TestHome.exportCrls(home, work.resolve("crls.pem"));
        Proc.ok(work, Proc.program("nginx"), "-p", work.toString(), "-c", conf.toString(), "-s", "reload");
    }

    @Override
    public void close() throws Exception {
        Proc.stop(process);
    }
}
