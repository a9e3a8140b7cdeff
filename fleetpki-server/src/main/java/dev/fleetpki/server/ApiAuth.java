package dev.fleetpki.server;

import dev.fleetpki.core.Actor;
import dev.fleetpki.core.ApiToken;
import dev.fleetpki.core.Fingerprints;
import dev.fleetpki.core.Role;
import dev.fleetpki.core.TokenSecrets;
import io.javalin.http.Context;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.Arrays;
import java.util.Map;
import java.util.Optional;

/**
 * Bearer API tokens: {@code Authorization: Bearer fpk_<id>_<secret>}. The token is found by its
 * id, its secret compared with the stored hash in constant time, and it must be unexpired and
 * unrevoked. Without an Authorization header, a TLS client certificate registered to an operator
 * credential ({@code token create --client-cert}) authenticates instead. Every refusal looks the same to the caller (401), so a probe learns nothing about
 * which ids exist. Admin may do everything; other roles only what a route allows.
 */
final class ApiAuth {
    private static final Map<String, String> CHALLENGE = Map.of("WWW-Authenticate", "Bearer realm=\"fleetpki\"");

    private final Services s;
    private final ConsoleSessions sessions;

    ApiAuth(Services s, ConsoleSessions sessions) {
        this.s = s;
        this.sessions = sessions;
    }

    /**
     * As {@link #require}, and a signed-in console operator may call too (a request without an
     * Authorization header but with the console's session cookie): the console acts only through
     * routes that call this, under the same roles. A request that changes something must carry the
     * session's CSRF token (403 otherwise). Routes the console does not use call {@link #require},
     * so a session cookie means nothing there.
     */
    Caller requireWithSession(Context ctx, Role... allowed) {
        if (ctx.header("Authorization") == null && ConsoleSessions.presents(ctx)) {
            ConsoleSessions.Signed signed = sessions.current(ctx).orElseThrow(() -> new HttpProblem(401, "session-ended", "Session ended",
                    "the console session has ended (signed out, idle for " + ConsoleSessions.IDLE.toMinutes() + " minutes, or the operator "
                            + "was disabled); sign in again at /console/login"));
            String method = ctx.method().name();
            if (!method.equals("GET") && !method.equals("HEAD") && !ConsoleSessions.sameSite(ctx, signed)) {
                throw new HttpProblem(403, "csrf", "Cross-site request refused", "a console request that changes something must carry the "
                        + "session's " + ConsoleSessions.CSRF_HEADER + " header and come from this server's own pages");
            }
            return authorize(signed.operator(), allowed);
        }
        return require(ctx, allowed);
    }

    /** Whether the request authenticates with an API token or a console session (not a device's or station's credential). */
    static boolean operatorCredential(Context ctx) {
        String bearer = AuthHeader.value(ctx.header("Authorization"), "Bearer");
        return bearer != null ? TokenSecrets.parse(bearer) != null : ctx.header("Authorization") == null && ConsoleSessions.presents(ctx);
    }

    /** The operator's actor and role, if the role is admin or one of {@code allowed}; else 403 naming the roles. */
    static Caller authorize(dev.fleetpki.core.Operator o, Role... allowed) {
        check(o.role(), "operator '" + o.name() + "'", allowed);
        return new Caller(o.actor(), o.role(), null);
    }

    /** Whether an operator of this role may do what needs {@code allowed}. */
    static boolean may(Role role, Role... allowed) {
        return role == Role.ADMIN || Arrays.stream(allowed).anyMatch(r -> r == role);
    }

    private static void check(Role role, String who, Role... allowed) {
        if (!may(role, allowed)) {
            throw new HttpProblem(403, "forbidden", "Not allowed", who + " has role " + role.configName() + "; this needs "
                    + (allowed.length == 0 ? "admin" : String.join(" or ", Arrays.stream(allowed).map(Role::configName).toList()) + " (or admin)"));
        }
    }

    Caller require(Context ctx, Role... allowed) {
        String header = ctx.header("Authorization");
        X509Certificate[] chain = ClientCertificates.chain(ctx);
        if (header == null && chain != null) {
            return operatorCertificate(chain[0], allowed);
        }
        String value = AuthHeader.value(header, "Bearer");
        if (value == null) {
            throw new HttpProblem(401, "unauthenticated", "Authentication required",
                    "send an API token: Authorization: Bearer fpk_... (create one with: fleetpki token create NAME --role issuer)", CHALLENGE);
        }
        ApiToken token = bearer(value).orElseThrow(() -> new HttpProblem(401, "invalid-token", "Invalid token",
                "the API token is unknown, revoked or expired; ask an administrator for a new one (fleetpki token create)", CHALLENGE));
        return authorize(token, allowed);
    }

    /** An operator authenticating with a client certificate registered by {@code fleetpki token create --client-cert}. */
    private Caller operatorCertificate(X509Certificate cert, Role... allowed) {
        ApiToken token = operator(cert).orElseThrow(() -> new HttpProblem(401, "invalid-certificate", "Unknown client certificate",
                "the client certificate is not an operator's (or its credential is revoked or expired); register it with: "
                        + "fleetpki token create NAME --role issuer --client-cert FILE, or send an API token", CHALLENGE));
        return authorize(token, allowed);
    }

    /** The API token with this text if it is known, its secret matches (constant time) and it is unexpired and unrevoked. */
    Optional<ApiToken> bearer(String text) {
        TokenSecrets.Presented p = TokenSecrets.parse(text);
        return (p == null ? Optional.<ApiToken>empty() : s.credentials().token(p.id()))
                .filter(t -> TokenSecrets.matches(p, t.secretHash()) && t.usableAt(s.clock().instant()));
    }

    /** The operator credential registered for this client certificate, if usable and the certificate is within its validity. */
    Optional<ApiToken> operator(X509Certificate cert) {
        Instant now = s.clock().instant();
        if (now.isAfter(cert.getNotAfter().toInstant()) || now.isBefore(cert.getNotBefore().toInstant())) {
            return Optional.empty();
        }
        return s.credentials().tokenByCertificate(Fingerprints.of(cert)).filter(t -> t.usableAt(now));
    }

    /** The token's actor and role, if its role is admin or one of {@code allowed}; else 403 naming the roles. */
    static Caller authorize(ApiToken t, Role... allowed) {
        check(t.role(), "token '" + t.name() + "'", allowed);
        return new Caller(actor(t), t.role(), t);
    }

    /** How the audit log names a token's holder. */
    static Actor actor(ApiToken t) {
        return new Actor("token", t.name());
    }

    /** An authenticated API caller: who, with which role, and the token (or operator certificate's credential) it presented; null for a console session. */
    record Caller(Actor actor, Role role, ApiToken token) {}
}
