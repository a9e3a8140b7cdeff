package dev.fleetpki.server;

import dev.fleetpki.core.CaRecord;
import dev.fleetpki.core.CaRegistry;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.revocation.OcspResponder;
import dev.fleetpki.core.revocation.RevocationLedger;
import dev.fleetpki.core.revocation.RevocationLedger.StoredCrl;
import dev.fleetpki.core.revocation.RevocationService;
import io.javalin.Javalin;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Base64;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The plain-HTTP side of revocation (RFC 5280 CRL distribution points and RFC 6960 OCSP must not
 * need TLS, which would itself need revocation checking): CRLs at {@code /crl/<ca>.crl} and
 * {@code /crl/<ca>/<shard>.crl}, OCSP by POST to {@code /ocsp} and by GET at {@code /ocsp/<base64>},
 * CA certificates at {@code /ca/<ca>.crt} (the AIA caIssuers URL), and {@code /healthz}.
 */
public final class RevocationHttp implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RevocationHttp.class);
    static final String OCSP_RESPONSE = "application/ocsp-response";
    static final String OCSP_REQUEST = "application/ocsp-request";
    /** Caches may keep a CRL this long at most, so a regenerated one reaches relying parties soon. */
    static final Duration CRL_MAX_AGE = Duration.ofMinutes(5);
    /**
     * RFC 9110 5.6.7 IMF-fixdate ({@code Sun, 06 Nov 1994 08:49:37 GMT}): a two-digit day, always
     * GMT. The JDK's RFC_1123_DATE_TIME writes a one-digit day, which strict parsers (Go's
     * http.ParseTime) refuse.
     */
    static final DateTimeFormatter HTTP_DATE = DateTimeFormatter.ofPattern("EEE, dd MMM yyyy HH:mm:ss 'GMT'", Locale.ENGLISH)
            .withZone(ZoneOffset.UTC);

    private final Javalin app;

    private RevocationHttp(Javalin app) {
        this.app = app;
    }

    /** Starts on {@code bind:port} (port 0: any free port; see {@link #port()}). */
    public static RevocationHttp start(RevocationService service, CaRegistry cas, RevocationLedger ledger, Metrics metrics, String bind, int port) {
        service.observe(metrics);
        Javalin app = Javalin.create(cfg -> {
            cfg.startup.showJavalinBanner = false;
            cfg.http.maxRequestSize = RevocationService.MAX_OCSP_REQUEST;
            cfg.http.prefer405over404 = true;
            cfg.jetty.threadPool = FleetServer.threadPool();
            new Routes(service, cas, ledger).register(cfg.routes);
        });
        try {
            app.start(bind, port);
        } catch (RuntimeException e) {
            throw new PkiException(ErrorKind.CONFIG, "cannot listen for CRL and OCSP requests on " + bind + ":" + port + " (" + e.getMessage()
                    + "); is another server using the port? choose one with --http-port", e);
        }
        return new RevocationHttp(app);
    }

    public int port() {
        return app.port();
    }

    @Override
    public void close() {
        app.stop();
    }

    private static final class Routes {
        private final RevocationService service;
        private final CaRegistry cas;
        private final RevocationLedger ledger;
        private final Map<String, StoredCrl> crlCache = new ConcurrentHashMap<>();

        Routes(RevocationService service, CaRegistry cas, RevocationLedger ledger) {
            this.service = service;
            this.cas = cas;
            this.ledger = ledger;
        }

        void register(RoutesConfig app) {
            app.get("/healthz", ctx -> ctx.json(Map.of("status", "ok")));
            app.get("/crl/{file}", ctx -> crl(ctx, stripSuffix(ctx.pathParam("file"), ".crl"), "0"));
            app.get("/crl/{ca}/{file}", ctx -> crl(ctx, ctx.pathParam("ca"), stripSuffix(ctx.pathParam("file"), ".crl")));
            // HEAD: what a cache or a refresh loop asks to see whether a CRL changed (ETag, Last-Modified)
            app.head("/crl/{file}", ctx -> crl(ctx, stripSuffix(ctx.pathParam("file"), ".crl"), "0"));
            app.head("/crl/{ca}/{file}", ctx -> crl(ctx, ctx.pathParam("ca"), stripSuffix(ctx.pathParam("file"), ".crl")));
            app.get("/ca/{file}", this::caCertificate);
            app.post("/ocsp", this::ocspPost);
            app.get("/ocsp/<request>", this::ocspGet);
            // HEAD: the GET answer's headers (type, ETag, caching) without its body, as for CRLs
            app.head("/ocsp/<request>", this::ocspGet);
            app.exception(HttpResponseException.class, (e, ctx) -> {
                if (e.getStatus() == 413) {
                    text(ctx, 413, "OCSP request larger than " + RevocationService.MAX_OCSP_REQUEST + " bytes; send one request of about 100 bytes");
                } else {
                    text(ctx, e.getStatus(), e.getMessage());
                }
            });
            app.exception(Exception.class, (e, ctx) -> {
                LOG.error("revocation request failed: {} {}", ctx.method(), ctx.path(), e);
                text(ctx, 500, "internal error; the operator finds the cause in the server log");
            });
            app.error(404, ctx -> {
                if (ctx.res().getContentType() == null) {
                    text(ctx, 404, "no such CRL, CA or endpoint: " + ctx.path() + " (CRLs are at /crl/<ca>.crl or /crl/<ca>/<shard>.crl, "
                            + "OCSP at /ocsp, CA certificates at /ca/<ca>.crt)");
                }
            });
            app.error(405, ctx -> text(ctx, 405, "method " + ctx.method() + " not allowed here; OCSP takes POST /ocsp or GET /ocsp/<base64 request>"));
        }

        private static String stripSuffix(String s, String suffix) {
            return s.endsWith(suffix) ? s.substring(0, s.length() - suffix.length()) : null;
        }

        private void crl(Context ctx, String ca, String shardText) {
            int shard;
            try {
                shard = ca == null || shardText == null ? -1 : Integer.parseInt(shardText);
            } catch (NumberFormatException e) {
                shard = -1;
            }
            if (shard < 0) {
                text(ctx, 404, "no such CRL: " + ctx.path() + " (CRLs are at /crl/<ca>.crl or /crl/<ca>/<shard>.crl)");
                return;
            }
            String key = ca + "/" + shard;
            long number = ledger.crlNumber(ca, shard);
            StoredCrl crl = crlCache.get(key);
            if (crl == null || crl.number() != number) {
                Optional<StoredCrl> loaded = ledger.crl(ca, shard);
                if (loaded.isEmpty()) {
                    text(ctx, 404, "no CRL published for CA '" + ca + "' shard " + shard + " (yet); the operator generates one with: fleetpki crl generate");
                    return;
                }
                crl = loaded.get();
                crlCache.put(key, crl);
            }
            String etag = "\"" + ca + "-" + shard + "-" + crl.number() + "\"";
            Instant now = service.clock().instant();
            long maxAge = Math.max(0, Math.min(CRL_MAX_AGE.toSeconds(), Duration.between(now, crl.nextUpdate()).toSeconds()));
            ctx.header("ETag", etag);
            ctx.header("Last-Modified", HTTP_DATE.format(crl.thisUpdate()));
            ctx.header("Expires", HTTP_DATE.format(crl.nextUpdate()));
            ctx.header("Cache-Control", "public, max-age=" + maxAge + ", no-transform");
            if (etag.equals(ctx.header("If-None-Match"))) {
                ctx.status(304);
                return;
            }
            ctx.contentType("application/pkix-crl").result(crl.der());
        }

        private void caCertificate(Context ctx) throws Exception {
            String name = stripSuffix(ctx.pathParam("file"), ".crt");
            Optional<CaRecord> ca = name == null ? Optional.empty() : cas.ca(name);
            if (ca.isEmpty()) {
                text(ctx, 404, "no CA certificate at " + ctx.path() + " (CA certificates are at /ca/<ca>.crt)");
                return;
            }
            ctx.header("Cache-Control", "public, max-age=86400");
            ctx.contentType("application/pkix-cert").result(ca.get().certificate().getEncoded());
        }

        private void ocspPost(Context ctx) {
            String type = String.valueOf(ctx.contentType());
            if (!type.toLowerCase(Locale.ROOT).startsWith(OCSP_REQUEST)) {
                text(ctx, 415, "content type '" + ctx.contentType() + "' is not " + OCSP_REQUEST + "; send the DER OCSP request with that type");
                return;
            }
            respond(ctx, service.answer(ctx.bodyAsBytes()), false);
        }

        private void ocspGet(Context ctx) {
            String raw = ctx.req().getRequestURI();
            int at = raw.indexOf("/ocsp/");
            byte[] der;
            try {
                String b64 = URLDecoder.decode(raw.substring(at + 6).replace("+", "%2B"), StandardCharsets.US_ASCII)
                        .replace('-', '+').replace('_', '/');
                der = Base64.getMimeDecoder().decode(b64);
            } catch (IllegalArgumentException e) {
                der = new byte[0]; // answered as malformedRequest
            }
            if (der.length > RevocationService.MAX_OCSP_REQUEST) {
                der = new byte[0];
            }
            respond(ctx, service.answer(der), true);
        }

        /** RFC 5019 6.2 caching headers for pre-signed answers to GET; signed-live answers are not cached. */
        private void respond(Context ctx, OcspResponder.OcspAnswer a, boolean get) {
            if (get && a.presigned() && a.nextUpdate() != null) {
                Instant now = service.clock().instant();
                long maxAge = Math.max(0, Duration.between(now, a.nextUpdate()).toSeconds());
                ctx.header("Last-Modified", HTTP_DATE.format(a.thisUpdate()));
                ctx.header("Expires", HTTP_DATE.format(a.nextUpdate()));
                ctx.header("Cache-Control", "max-age=" + maxAge + ", public, no-transform, must-revalidate");
                ctx.header("ETag", "\"" + a.etag() + "\"");
            } else {
                ctx.header("Cache-Control", "no-cache, no-store");
            }
            ctx.contentType(OCSP_RESPONSE).result(a.der());
        }

        private static void text(Context ctx, int status, String message) {
            ctx.status(status).contentType("text/plain; charset=utf-8").result(message + "\n");
        }
    }
}
