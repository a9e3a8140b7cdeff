package dev.fleetpki.server;

import dev.fleetpki.core.Actor;
import dev.fleetpki.core.CaRecord;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.kms.Pem;
import io.javalin.Javalin;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import java.io.InputStream;
import java.security.cert.CertificateEncodingException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.http.HttpException;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.NetworkConnectionLimit;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTPS service: Javalin on Jetty, TLS 1.2 and 1.3 only, with the key store from
 * {@link ServerIdentity}. Errors are RFC 9457 problem details; internal detail never reaches a
 * client (it is logged).
 */
public final class FleetServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(FleetServer.class);
    static final String PROBLEM_JSON = "application/problem+json";
    /** Request bodies larger than this are refused (413) before they are read. */
    static final long MAX_BODY = 64 * 1024;

    private final Javalin app;
    private final ServerConnector connector;
    private final SslContextFactory.Server ssl;
    private volatile ScheduledExecutorService identityWatch;

    private final List<String> routes;
    /** The TLS identity new connections get. */
    private volatile ServerIdentity.Loaded identity;

    private FleetServer(Javalin app, ServerConnector connector, SslContextFactory.Server ssl, List<String> routes,
                        ServerIdentity.Loaded identity, CmpRoutes cmp, Services s) {
        this.app = app;
        this.connector = connector;
        this.ssl = ssl;
        this.routes = routes;
        this.identity = identity;
        this.cmp = cmp;
        this.webhooks = s.config().webhooks().isEmpty() ? null
                : new WebhookDispatcher(s.config().webhooks(), s.webhooks(), s.certificates(), s.clock()).start();
        this.cmpSweeper = daemonScheduler("fleetpki-cmp-confirmations");
        cmpSweeper.scheduleWithFixedDelay(() -> {
            try {
                revokeUnconfirmedCmp(s.clock().instant());
                s.nonces().forgetNonces(s.clock().instant().minus(NONCE_MEMORY));
                s.operators().forgetSessions(s.clock().instant()); // console sessions past their end
            } catch (RuntimeException e) {
                LOG.warn("cannot revoke unconfirmed CMP certificates, forget old SCEP nonces or ended console sessions: {}", e.getMessage());
            }
        }, CMP_SWEEP.toMillis(), CMP_SWEEP.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Every route this server serves, as {@code METHOD /path/{param}}: what the authorization matrix test must cover. */
    public List<String> routes() {
        return routes;
    }

    /** How often a server that issued its own TLS certificate checks it (revoked, or two thirds of its life gone). */
    public static final Duration IDENTITY_CHECK = Duration.ofMinutes(1);

    /**
     * Keeps the server's own TLS certificate usable while it runs: every {@link #IDENTITY_CHECK},
     * {@link #refreshIdentity} replaces it when it was revoked or two thirds of its life are gone.
     * For servers whose certificate fleetpki issued (not one given with --tls-keystore).
     */
    public void watchIdentity(Services s, String hostname, Actor actor) {
        var exec = daemonScheduler("fleetpki-server-identity");
        exec.scheduleWithFixedDelay(() -> {
            try {
                refreshIdentity(s, hostname, actor);
            } catch (RuntimeException e) {
                LoggerFactory.getLogger(FleetServer.class).warn("cannot check the server's TLS certificate: {}", e.getMessage());
            }
        }, IDENTITY_CHECK.toMillis(), IDENTITY_CHECK.toMillis(), TimeUnit.MILLISECONDS);
        identityWatch = exec;
    }

    /** Checks the server's TLS certificate now; when a new one was issued, new connections get it. Returns whether it changed. */
    public synchronized boolean refreshIdentity(Services s, String hostname, Actor actor) {
        if (ServerIdentity.stillGood(s, identity, hostname)) {
            return false;
        }
        ServerIdentity.Loaded now = ServerIdentity.ensure(s, hostname, actor);
        if (!now.issued()) {
            return false;
        }
        identity = now;
        try {
            ssl.reload(f -> {
                f.setKeyStore(now.keyStore());
                f.setKeyStorePassword(new String(now.password()));
            });
        } catch (Exception e) {
            throw new PkiException(ErrorKind.INTERNAL, "cannot load the server's new TLS certificate: " + e.getMessage(), e);
        }
        LoggerFactory.getLogger(FleetServer.class).info("server TLS certificate replaced: serial {}",
                now.certificate().getSerialNumber().toString(16));
        return true;
    }

    /**
     * What a slow or greedy client may hold: a connection that sends nothing for {@code idleTimeout}
     * is closed (this covers a TLS handshake or request headers that never finish); a request body
     * that arrives slower than {@code minBodyBytesPerSecond} is refused with 408; at most {@code
     * maxConnections} connections are open at once (beyond that Jetty stops accepting until some
     * close). A waiting connection holds a socket and a buffer, never a thread.
     */
    public record Limits(Duration idleTimeout, int minBodyBytesPerSecond, int maxConnections) {
        public static final Limits DEFAULT = new Limits(Duration.ofSeconds(30), 1024, 10_000);
    }

    /** The JDK's setting for how many TLS 1.3 session tickets a server sends after each full handshake. */
    static final String SESSION_TICKETS_PROPERTY = "jdk.tls.server.newSessionTicketCount";
    /** The JDK's setting for stateless (RFC 5077) session tickets, which TLS 1.2 uses. */
    static final String TLS12_TICKETS_PROPERTY = "jdk.tls.server.enableSessionTicketExtension";

    /**
     * Whether the server sends a TLS 1.3 session ticket after each full handshake, so a client that
     * connects again can resume without one. Off unless asked for: devices enroll over a new
     * connection and do not come back for months, gateways keep their connection, so a ticket is
     * work for both ends on every connection that nobody uses. The JDK reads the setting once,
     * when its TLS classes load, so call this before the first TLS context of the process; a value
     * given with {@code -Djdk.tls.server.newSessionTicketCount} is left as it is.
     */
    public static void sessionTickets(boolean send) {
        if (System.getProperty(SESSION_TICKETS_PROPERTY) == null) {
            System.setProperty(SESSION_TICKETS_PROPERTY, send ? "1" : "0");
        }
        // With no tickets the JDK still accepts a TLS 1.2 client's RFC 5077 ticket extension and then
        // sends no ticket, which the client takes as a protocol error when it tries to resume; so
        // TLS 1.2 clients resume by session id instead (ServeSessionTicketsTest)
        if ("0".equals(System.getProperty(SESSION_TICKETS_PROPERTY).trim()) && System.getProperty(TLS12_TICKETS_PROPERTY) == null) {
            System.setProperty(TLS12_TICKETS_PROPERTY, "false");
        }
    }

    /** Starts on {@code bind:port} (port 0: any free port; see {@link #port()}) with the default {@link Limits}. */
    public static FleetServer start(Services s, ServerIdentity.Loaded tls, String bind, int port) {
        return start(s, tls, bind, port, Limits.DEFAULT);
    }

    /**
     * The cipher suites the server accepts: TLS 1.3's AEAD suites, and for TLS 1.2 clients (Mbed TLS
     * 2.x devices) ECDHE with AES-GCM or ChaCha20-Poly1305 only, for ECDSA and RSA server keys:
     * forward secrecy and authenticated encryption, nothing CBC, static-RSA or DHE (the Mozilla
     * "intermediate" list without DHE). Fewer suites is also less to negotiate per handshake.
     */
    static final String[] CIPHER_SUITES = {
        "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"};

    /** The cipher suites the server accepts (a copy). */
    public static List<String> cipherSuites() {
        return List.of(CIPHER_SUITES);
    }

    public static FleetServer start(Services s, ServerIdentity.Loaded tls, String bind, int port, Limits limits) {
        ServerConnector[] holder = new ServerConnector[1];
        SslContextFactory.Server[] sslHolder = new SslContextFactory.Server[1];
        List<String> routes = Collections.synchronizedList(new ArrayList<>());
        CmpRoutes[] cmp = new CmpRoutes[1];
        Javalin app = Javalin.create(cfg -> {
            cfg.startup.showJavalinBanner = false;
            cfg.events.handlerAdded(h -> routes.add(h.getHttpMethod().name() + " " + h.getPath()));
            cfg.http.maxRequestSize = MAX_BODY;
            cfg.jetty.threadPool = threadPool();
            cfg.jetty.addConnector((server, httpConfig) -> {
                SslContextFactory.Server ssl = new ClientCertificates.TlsContext();
                ssl.setWantClientAuth(true); // optional at the handshake; routes that need one refuse without it
                ssl.setKeyStore(tls.keyStore());
                ssl.setKeyStorePassword(new String(tls.password()));
                ssl.setCertAlias(ServerIdentity.ALIAS);
                ssl.setIncludeProtocols("TLSv1.3", "TLSv1.2");
                ssl.setIncludeCipherSuites(CIPHER_SUITES);
                ssl.setRenegotiationAllowed(false); // TLS 1.2 renegotiation: a client-driven CPU cost with no use here
                sslHolder[0] = ssl;
                HttpConfiguration https = new HttpConfiguration(httpConfig);
                https.addCustomizer(new SecureRequestCustomizer(false));
                https.setMinRequestDataRate(limits.minBodyBytesPerSecond());
                ServerConnector c = new ServerConnector(server, new SslConnectionFactory(ssl, "http/1.1"), new HttpConnectionFactory(https));
                c.setHost(bind);
                c.setPort(port);
                c.setIdleTimeout(limits.idleTimeout().toMillis());
                server.addBean(new NetworkConnectionLimit(limits.maxConnections(), server));
                holder[0] = c;
                return c;
            });
            cmp[0] = routes(cfg.routes, s);
        });
        try {
            app.start();
        } catch (RuntimeException e) {
            throw new PkiException(ErrorKind.CONFIG, "cannot listen on " + bind + ":" + port + " (" + rootMessage(e)
                    + "); is another server using the port? choose one with --port", e);
        }
        return new FleetServer(app, holder[0], sslHolder[0], List.copyOf(routes), tls, cmp[0], s);
    }

    /** A scheduler on one daemon thread of this name (it never keeps the JVM alive). */
    private static ScheduledExecutorService daemonScheduler(String name) {
        return Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        });
    }

    /** How long a SCEP senderNonce is remembered against replay. */
    static final Duration NONCE_MEMORY = Duration.ofDays(30);
    /** How often certificates issued over CMP and not confirmed in time are looked for (and old nonces forgotten). */
    static final Duration CMP_SWEEP = Duration.ofSeconds(30);
    private final CmpRoutes cmp;
    private final ScheduledExecutorService cmpSweeper;
    /** Registry notifications (null: none configured). */
    private final WebhookDispatcher webhooks;

    /**
     * Revokes the certificates issued over CMP whose certConf is overdue at {@code asOf} (RFC
     * 9810 5.3.18); the server does it every {@link #CMP_SWEEP} for the present. Returns how many.
     */
    public int revokeUnconfirmedCmp(Instant asOf) {
        return cmp.revokeUnconfirmed(asOf);
    }

    /**
     * Jetty's pool of platform threads runs the network side (selectors, TLS handshakes, HTTP
     * parsing); request handlers, which wait on the store's group commit, run on virtual threads.
     * With a platform thread per waiting request, 64 busy clients made 64 runnable threads on 2
     * cores, which starved the JIT compilers and GC and stretched the latency tail (bench/README.md).
     * {@code -Dfleetpki.platformThreads=true} runs handlers on the platform pool instead.
     */
    static QueuedThreadPool threadPool() {
        var pool = new QueuedThreadPool(250, 8, 60_000);
        pool.setName("fleetpki-http");
        if (!Boolean.getBoolean("fleetpki.platformThreads")) {
            pool.setVirtualThreadsExecutor(Executors.newThreadPerTaskExecutor(
                    Thread.ofVirtual().name("fleetpki-request-", 0).factory()));
        }
        return pool;
    }

    public int port() {
        return connector.getLocalPort();
    }

    private static CmpRoutes routes(RoutesConfig app, Services s) {
        app.get("/healthz", ctx -> ctx.json(Map.of("status", "ok")));
        app.get("/readyz", ctx -> {
            try {
                s.certificates().certificateCount();
                ctx.json(Map.of("status", "ready"));
            } catch (RuntimeException e) {
                LOG.warn("readiness: store unavailable: {}", e.getMessage());
                unavailable(ctx);
            }
        });
        app.get("/metrics", ctx -> ctx.contentType("text/plain; version=0.0.4; charset=utf-8").result(s.metrics().scrape()));
        app.get("/api/v1/openapi.json", ctx -> {
            try (InputStream in = FleetServer.class.getResourceAsStream("openapi.json")) {
                ctx.contentType("application/json").result(in.readAllBytes());
            }
        });
        app.get("/api/v1/cas", ctx -> ctx.json(s.caRecords().cas().stream().map(FleetServer::caJson).toList()));
        app.get("/api/v1/cas/{name}", ctx -> ctx.json(caJson(ca(s, ctx.pathParam("name")))));
        app.get("/api/v1/cas/{name}/certificate", ctx -> {
            CaRecord ca = ca(s, ctx.pathParam("name"));
            String accept = String.valueOf(ctx.header("Accept"));
            if (accept.contains("application/pkix-cert")) {
                ctx.contentType("application/pkix-cert").result(ca.certificate().getEncoded());
            } else {
                ctx.contentType("application/pem-certificate-chain").result(Pem.encode("CERTIFICATE", ca.certificate().getEncoded()));
            }
        });

        ConsoleSessions sessions = new ConsoleSessions(s);
        ApiAuth auth = new ApiAuth(s, sessions);
        new ConsoleRoutes(s, sessions).register(app);
        new AuditRoutes(s, auth).register(app);
        new AdminRoutes(s, auth).register(app);
        new DeviceRoutes(s, auth).register(app);
        new WebhookRoutes(s, auth).register(app);
        Credentials credentials = new Credentials(s, auth);
        new CertificateRoutes(s, auth, credentials, s.enrollment()).register(app);
        new EstRoutes(s, credentials, s.enrollment()).register(app);
        new FirmwareRoutes(s, auth).register(app);
        new ScepRoutes(s, credentials, s.enrollment(), s.scepRa()).register(app);
        CmpRoutes cmp = new CmpRoutes(s, credentials, auth, s.enrollment(), s.scepRa());
        cmp.register(app);

        app.exception(HttpProblem.class, (e, ctx) -> {
            e.headers.forEach(ctx::header);
            problem(ctx, e.status, e.type, e.title, e.getMessage());
        });
        app.exception(HttpResponseException.class, (e, ctx) -> {
            switch (e.getStatus()) {
                case 404 -> notFound(ctx);
                case 413 -> problem(ctx, 413, "too-large", "Request too large", "the request body is larger than " + MAX_BODY + " bytes");
                default -> problem(ctx, e.getStatus(), "http-" + e.getStatus(), "Request refused", e.getMessage());
            }
        });
        app.exception(HttpException.RuntimeException.class, (e, ctx) -> { // Jetty refused the request data
            if (e.getCode() == 408) {
                problem(ctx, 408, "too-slow", "Request too slow", "the request body arrived too slowly (" + e.getReason() + "); send it at once");
            } else {
                problem(ctx, e.getCode(), "http-" + e.getCode(), "Bad request", String.valueOf(e.getReason()));
            }
        });
        app.exception(PkiException.class, (e, ctx) -> {
            int status = status(e.kind());
            if (e.kind() == ErrorKind.UNAVAILABLE) { // nothing was done; the client tries again later (RFC 9110 15.6.4, RFC 7030 4.2.3)
                LOG.warn("request not served, the store does not answer: {} {}: {}", ctx.method(), ctx.path(), e.detail());
                unavailable(ctx);
            } else if (status >= 500) {
                LOG.error("request failed: {} {}", ctx.method(), ctx.path(), e);
                problem(ctx, status, "internal", "Internal error", "the server could not complete the request; the operator finds the cause in the server log");
            } else {
                problem(ctx, status, e.kind().name().toLowerCase(Locale.ROOT).replace('_', '-'), title(e.kind()), e.detail());
            }
        });
        app.exception(Exception.class, (e, ctx) -> {
            LOG.error("request failed: {} {}", ctx.method(), ctx.path(), e);
            problem(ctx, 500, "internal", "Internal error", "the server could not complete the request; the operator finds the cause in the server log");
        });
        app.error(404, ctx -> {
            String type = ctx.res().getContentType();
            if (type == null || !type.startsWith(PROBLEM_JSON)) { // not already a problem from a handler (an unknown CA, say)
                notFound(ctx);
            }
        });
        return cmp;
    }

    /** Seconds a client waits before it tries again when the store does not answer. */
    static final int RETRY_AFTER_SECONDS = 5;

    /** 503 with Retry-After: the store does not answer, nothing was done. */
    static void unavailable(Context ctx) {
        ctx.header("Retry-After", Integer.toString(RETRY_AFTER_SECONDS));
        problem(ctx, 503, "store-unavailable", "Store unavailable", "the store does not answer, so nothing was done; try again in "
                + RETRY_AFTER_SECONDS + " seconds (the operator finds the cause in the server log)");
    }

    private static void notFound(Context ctx) {
        problem(ctx, 404, "not-found", "Not found", "no endpoint " + ctx.method() + " " + ctx.path() + "; the API is described at /api/v1/openapi.json");
    }

    private static CaRecord ca(Services s, String name) {
        return s.caRecords().ca(name).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND, "no CA named '" + name + "'; list them at /api/v1/cas"));
    }

    private static Map<String, Object> caJson(CaRecord c) {
        return dev.fleetpki.core.CaJson.of(c);
    }

    /** RFC 9457 problem details. */
    static void problem(Context ctx, int status, String type, String title, String detail) {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("type", "https://fleetpki.dev/problems/" + type);
        p.put("title", title);
        p.put("status", status);
        p.put("detail", detail);
        p.put("instance", ctx.path());
        ctx.status(status).json(p).contentType(PROBLEM_JSON);
    }

    static int status(ErrorKind k) {
        return switch (k) {
            case MALFORMED_REQUEST, BAD_SIGNATURE, NAME_MISMATCH, KEY_POLICY, POLICY_VIOLATION -> 400;
            case NOT_AUTHORIZED, DEVICE_NOT_ACTIVE -> 403;
            case NOT_FOUND -> 404;
            case CONFLICT -> 409;
            case CONFIG, INTERNAL -> 500;
            case UNAVAILABLE -> 503;
        };
    }

    private static String title(ErrorKind k) {
        return switch (k) {
            case MALFORMED_REQUEST -> "Malformed request";
            case BAD_SIGNATURE -> "Bad signature";
            case NAME_MISMATCH -> "Name mismatch";
            case KEY_POLICY -> "Key refused by policy";
            case POLICY_VIOLATION -> "Refused by policy";
            case NOT_AUTHORIZED -> "Not allowed";
            case DEVICE_NOT_ACTIVE -> "Device not active";
            case NOT_FOUND -> "Not found";
            case CONFLICT -> "Conflict";
            case CONFIG, INTERNAL -> "Internal error";
            case UNAVAILABLE -> "Store unavailable";
        };
    }

    private static String rootMessage(Throwable t) {
        while (t.getCause() != null) {
            t = t.getCause();
        }
        return String.valueOf(t.getMessage());
    }

    @Override
    public void close() {
        if (identityWatch != null) {
            identityWatch.shutdownNow();
        }
        cmpSweeper.shutdownNow();
        if (webhooks != null) {
            webhooks.close();
        }
        app.stop();
    }
}
