package dev.fleetpki.server;

import dev.fleetpki.core.Actor;
import dev.fleetpki.core.AuditAction;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.ConsoleSession;
import dev.fleetpki.core.Fingerprints;
import dev.fleetpki.core.Operator;
import dev.fleetpki.core.Passwords;
import dev.fleetpki.core.TokenSecrets;
import io.javalin.http.Context;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * Console sign-in and sessions. A session is a random 256-bit id in a {@code __Host-} cookie
 * (Secure, HttpOnly, SameSite=Strict, Path=/); the store keeps only its SHA-256. Its CSRF token
 * is derived from the id (never stored) and must come back in the {@code X-CSRF-Token} header of
 * every request that changes something, with an {@code Origin} (when the browser sends one) of
 * this server. A session ends after {@link #IDLE} without a request or {@link #MAX} in all, at
 * sign-out, and when its operator is disabled, locked or given a new password. {@link
 * #MAX_FAILURES} wrong passwords in a row lock the account for {@link #LOCK}.
 */
final class ConsoleSessions {
    static final String COOKIE = "__Host-fleetpki-session";
    static final String CSRF_HEADER = "X-CSRF-Token";
    static final Duration IDLE = Duration.ofMinutes(30);
    static final Duration MAX = Duration.ofHours(12);
    static final int MAX_FAILURES = 5;
    static final Duration LOCK = Duration.ofMinutes(15);
    /** The one answer to every refused sign-in, so it tells nobody which names exist. */
    static final String REFUSED = "Wrong name or password. After " + MAX_FAILURES + " failed attempts an account is locked for "
            + LOCK.toMinutes() + " minutes; an administrator can unlock it (fleetpki operator unlock NAME).";
    private static final SecureRandom RANDOM = new SecureRandom();
    /** Password hashing is slow on purpose; this many at once at most, so sign-in floods cannot take every core. */
    private final Semaphore hashing = new Semaphore(2);

    private final Services s;

    ConsoleSessions(Services s) {
        this.s = s;
    }

    /** A signed-in operator and their session's CSRF token. */
    record Signed(Operator operator, ConsoleSession session, String csrf) {}

    /** The signed-in operator of this request, if its cookie names a live session of an active operator. */
    Optional<Signed> current(Context ctx) {
        String id = ctx.cookie(COOKIE);
        if (id == null || id.length() != 43) {
            return Optional.empty();
        }
        Instant now = s.clock().instant();
        Optional<ConsoleSession> session = s.operators().session(TokenSecrets.hash(id)).filter(x -> x.liveAt(now));
        if (session.isEmpty()) {
            return Optional.empty();
        }
        Optional<Operator> op = s.operators().operator(session.get().operator()).filter(o -> o.active() && !o.lockedAt(now));
        if (op.isEmpty()) {
            return Optional.empty();
        }
        ConsoleSession cs = session.get();
        if (Duration.between(now, cs.idleUntil()).compareTo(IDLE.minusMinutes(1)) < 0) { // at most one write a minute per session
            s.operators().touchSession(cs.idHash(), now.plus(IDLE));
        }
        return Optional.of(new Signed(op.get(), cs, csrf(id)));
    }

    /** Whether the request carries a console session cookie at all (live or not). */
    static boolean presents(Context ctx) {
        return ctx.cookie(COOKIE) != null;
    }

    /** The CSRF token of the session with this id. */
    static String csrf(String id) {
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(("fleetpki-console-csrf:" + id).getBytes(StandardCharsets.UTF_8));
            return Base64.getUrlEncoder().withoutPadding().encodeToString(h);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Whether a state-changing request of this session carries its CSRF token and, if the browser said, comes from this server. */
    static boolean sameSite(Context ctx, Signed signed) {
        String sent = ctx.header(CSRF_HEADER);
        return sent != null && MessageDigest.isEqual(sent.getBytes(StandardCharsets.UTF_8), signed.csrf().getBytes(StandardCharsets.UTF_8))
                && originOk(ctx);
    }

    /**
     * The request came from this server's own pages: a browser's {@code Sec-Fetch-Site} says
     * same-origin, or (a browser without it) its {@code Origin} names this server's scheme, host
     * and port; a client that sends neither (curl, a script with the cookie) passes here and still
     * needs the CSRF token.
     */
    static boolean originOk(Context ctx) {
        String site = ctx.header("Sec-Fetch-Site");
        if (site != null) {
            return site.equals("same-origin");
        }
        String origin = ctx.header("Origin");
        String host = ctx.header("Host");
        return origin == null || host != null && origin.equalsIgnoreCase("https://" + host);
    }

    /** What a sign-in attempt came to. */
    sealed interface SignIn {
        record Ok(Operator operator) implements SignIn {}

        record Refused(String reason) implements SignIn {}

        record Busy() implements SignIn {}
    }

    /** Checks a name and password; counts failures and locks. The password is wiped here. */
    SignIn password(String name, char[] password, String address) {
        try {
            if (!hashing.tryAcquire(5, TimeUnit.SECONDS)) {
                return new SignIn.Busy();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new SignIn.Busy();
        }
        try {
            Instant now = s.clock().instant();
            Optional<Operator> found = name == null || name.isBlank() || name.length() > 64 ? Optional.empty() : s.operators().operator(name);
            if (found.isEmpty()) {
                Passwords.matchesNobody(password);
                return refuse(name, "unknown operator", address);
            }
            Operator o = found.get();
            boolean good = Passwords.matches(password, o.passwordHash());
            if (!o.active()) {
                return refuse(name, "operator disabled", address);
            }
            if (o.lockedAt(now)) {
                return refuse(name, "operator locked until " + o.lockedUntil(), address);
            }
            if (!good) {
                Actor who = Actor.operator(o.name());
                s.operators().signInFailed(o.name(), MAX_FAILURES, now.plus(LOCK),
                        new AuditEvent(now, who, AuditAction.CONSOLE_SIGN_IN_REFUSE, "operator:" + o.name(), Map.of("reason", "wrong password", "from", address)),
                        new AuditEvent(now, Actor.system(), AuditAction.OPERATOR_LOCK, "operator:" + o.name(),
                                Map.of("failures", String.valueOf(MAX_FAILURES), "until", now.plus(LOCK).toString())));
                return new SignIn.Refused(REFUSED);
            }
            return new SignIn.Ok(o);
        } finally {
            hashing.release();
            Passwords.wipe(password);
        }
    }

    /** The operator a registered client certificate signs in, if any. */
    Optional<Operator> certificate(Context ctx) {
        X509Certificate[] chain = ClientCertificates.chain(ctx);
        if (chain == null) {
            return Optional.empty();
        }
        Instant now = s.clock().instant();
        X509Certificate c = chain[0];
        if (now.isAfter(c.getNotAfter().toInstant()) || now.isBefore(c.getNotBefore().toInstant())) {
            return Optional.empty();
        }
        return s.operators().operatorByCertificate(Fingerprints.of(c)).filter(o -> !o.lockedAt(now));
    }

    private SignIn refuse(String name, String why, String address) {
        String target = name == null || name.isBlank() ? "-" : name.length() > 64 ? name.substring(0, 64) : name;
        s.audit().audit(new AuditEvent(s.clock().instant(), Actor.system(), AuditAction.CONSOLE_SIGN_IN_REFUSE, "operator:" + target,
                Map.of("reason", why, "from", address)));
        return new SignIn.Refused(REFUSED);
    }

    /** Starts a session for {@code o} (audited) and sets its cookie. */
    void start(Context ctx, Operator o, String how) {
        byte[] raw = new byte[32];
        RANDOM.nextBytes(raw);
        String id = Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
        Instant now = s.clock().instant();
        ConsoleSession session = new ConsoleSession(TokenSecrets.hash(id), o.name(), now, now.plus(IDLE), now.plus(MAX), how);
        s.operators().signedIn(o.name(), session, new AuditEvent(now, o.actor(), AuditAction.CONSOLE_SIGN_IN, "operator:" + o.name(),
                Map.of("how", how, "from", ctx.ip())));
        ctx.header("Set-Cookie", COOKIE + "=" + id + "; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=" + MAX.toSeconds());
    }

    /** Ends this request's session, if any, and clears its cookie. */
    void end(Context ctx) {
        String id = ctx.cookie(COOKIE);
        if (id != null) {
            Optional<Signed> signed = current(ctx);
            s.operators().endSession(TokenSecrets.hash(id), signed.map(x -> new AuditEvent(s.clock().instant(), x.operator().actor(),
                    AuditAction.CONSOLE_SIGN_OUT, "operator:" + x.operator().name(), Map.of())).orElse(null));
        }
        ctx.header("Set-Cookie", COOKIE + "=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0");
    }
}
