package dev.fleetpki.server;

import dev.fleetpki.core.Actor;
import dev.fleetpki.core.ApiToken;
import dev.fleetpki.core.AuditAction;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.CertificateAuthority;
import dev.fleetpki.core.CmpTransaction;
import dev.fleetpki.core.EnrollmentCredential;
import dev.fleetpki.core.EnrollmentRequest;
import dev.fleetpki.core.EnrollmentSecret;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.Fingerprints;
import dev.fleetpki.core.IssuedCertificate;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.Profile;
import dev.fleetpki.core.RevocationReason;
import dev.fleetpki.core.Role;
import dev.fleetpki.core.StoredCertificate;
import dev.fleetpki.core.UntrustedCsr;
import dev.fleetpki.core.enrollment.Enrollment;
import dev.fleetpki.server.cmp.CmpMessage;
import dev.fleetpki.server.cmp.CmpMessage.Failure;
import dev.fleetpki.server.cmp.CmpMessage.Protector;
import dev.fleetpki.server.cmp.CmpMessage.Request;
import dev.fleetpki.server.scep.ScepRa;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import java.math.BigInteger;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.bouncycastle.asn1.ASN1Encodable;
import org.bouncycastle.asn1.ASN1EncodableVector;
import org.bouncycastle.asn1.ASN1Enumerated;
import org.bouncycastle.asn1.ASN1Integer;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.DERNull;
import org.bouncycastle.asn1.DERSequence;
import org.bouncycastle.asn1.cmp.CMPCertificate;
import org.bouncycastle.asn1.cmp.CMPObjectIdentifiers;
import org.bouncycastle.asn1.cmp.CertConfirmContent;
import org.bouncycastle.asn1.cmp.CertOrEncCert;
import org.bouncycastle.asn1.cmp.CertRepMessage;
import org.bouncycastle.asn1.cmp.CertResponse;
import org.bouncycastle.asn1.cmp.CertStatus;
import org.bouncycastle.asn1.cmp.CertifiedKeyPair;
import org.bouncycastle.asn1.cmp.GenMsgContent;
import org.bouncycastle.asn1.cmp.GenRepContent;
import org.bouncycastle.asn1.cmp.InfoTypeAndValue;
import dev.fleetpki.core.config.CaRole;
import dev.fleetpki.core.Rollover;
import org.bouncycastle.asn1.cmp.RootCaKeyUpdateContent;
import org.bouncycastle.asn1.cmp.PKIBody;
import org.bouncycastle.asn1.cmp.PKIFailureInfo;
import org.bouncycastle.asn1.cmp.PKIStatus;
import org.bouncycastle.asn1.cmp.PollRepContent;
import org.bouncycastle.asn1.cmp.PollReqContent;
import org.bouncycastle.asn1.cmp.RevDetails;
import org.bouncycastle.asn1.cmp.RevRepContentBuilder;
import org.bouncycastle.asn1.cmp.RevReqContent;
import org.bouncycastle.asn1.crmf.CertReqMessages;
import org.bouncycastle.asn1.crmf.CertReqMsg;
import org.bouncycastle.asn1.crmf.CertTemplate;
import org.bouncycastle.asn1.x509.Certificate;
import org.bouncycastle.asn1.x509.CertificateList;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.Extensions;
import org.bouncycastle.operator.DefaultDigestAlgorithmIdentifierFinder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * CMP (RFC 9810, lightweight profile RFC 9483) at {@code POST /.well-known/cmp[/p/<label>]}: ir,
 * cr, p10cr and kur through the one enrollment (same credentials, fleet rules and profile scopes
 * as EST), certConf/pkiConf, pollReq/pollRep for requests kept for an operator, rr, and genm.
 * <p>
 * A request's credential is its protection: a MAC (PBM or PBMAC1) keyed with the device's
 * one-time enrollment secret, the device named by senderKID; or a signature by the first
 * certificate in extraCerts, which must be a credential itself (a manufacturer IDevID, a factory
 * station's, an operator's, or the device's current certificate). Answers to a MAC-protected
 * request carry a MAC with the same secret; all others are signed by the issuing CA's
 * registration authority (the RSA key and certificate SCEP uses, which has digitalSignature).
 * <p>
 * Every transactionID is remembered (a replay is refused with transactionIdInUse). An issued
 * certificate waits for the client's certConf; one not confirmed within {@link #CONFIRM_WAIT}, or
 * rejected in certConf, is revoked (RFC 9810 5.3.18). A client that asks for implicitConfirm gets
 * it when the fleet allows ({@code enrollment.cmpImplicitConfirm}).
 */
final class CmpRoutes {
    private static final Logger LOG = LoggerFactory.getLogger(CmpRoutes.class);
    static final String CONTENT_TYPE = "application/pkixcmp";
    /** How long an issued certificate waits for certConf before it is revoked. */
    static final Duration CONFIRM_WAIT = Duration.ofMinutes(5);
    /** What pollRep tells a client to wait before polling again. */
    static final int CHECK_AFTER_SECONDS = 2;
    static final ASN1ObjectIdentifier IT_CA_CERTS = new ASN1ObjectIdentifier("1.3.6.1.5.5.7.4.17");
    static final ASN1ObjectIdentifier IT_ROOT_CA_CERT = new ASN1ObjectIdentifier("1.3.6.1.5.5.7.4.20");
    static final ASN1ObjectIdentifier IT_ROOT_CA_KEY_UPDATE = new ASN1ObjectIdentifier("1.3.6.1.5.5.7.4.18");
    static final ASN1ObjectIdentifier IT_CRL_STATUS_LIST = new ASN1ObjectIdentifier("1.3.6.1.5.5.7.4.22");
    static final ASN1ObjectIdentifier IT_CRLS = new ASN1ObjectIdentifier("1.3.6.1.5.5.7.4.23");
    static final ASN1ObjectIdentifier IT_CURRENT_CRL = CMPObjectIdentifiers.it_currentCRL;
    static final ASN1ObjectIdentifier IT_UNSUPPORTED = CMPObjectIdentifiers.it_unsupportedOIDs;

    private final Services s;
    private final Credentials credentials;
    private final ApiAuth auth;
    private final Enrollment enrollment;
    private final ScepRa ra;
    private final boolean implicitConfirmAllowed;

    CmpRoutes(Services s, Credentials credentials, ApiAuth auth, Enrollment enrollment, ScepRa ra) {
        this.s = s;
        this.credentials = credentials;
        this.auth = auth;
        this.enrollment = enrollment;
        this.ra = ra;
        this.implicitConfirmAllowed = s.config().enrollment().cmpImplicitConfirm();
    }

    void register(RoutesConfig app) {
        app.post("/.well-known/cmp", ctx -> handle(ctx, EstRoutes.DEFAULT_LABEL));
        app.post("/.well-known/cmp/p/{label}", ctx -> handle(ctx, ctx.pathParam("label")));
    }

    private void handle(Context ctx, String label) {
        Profile profile = s.config().profile(label).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND,
                "no CMP label '" + label + "'; a label is a certificate profile name: " + String.join(", ", new java.util.TreeSet<>(s.config().profiles().keySet()))));
        String type = String.valueOf(ctx.contentType());
        if (!type.toLowerCase(java.util.Locale.ROOT).startsWith(CONTENT_TYPE)) {
            throw new HttpProblem(415, "bad-content-type", "Not a CMP message", "POST the DER PKIMessage as Content-Type: " + CONTENT_TYPE
                    + " (RFC 9811 3.4), not " + type);
        }
        CertificateAuthority raCa = ra.forCa(s.pipeline().issuerFor(profile));
        ctx.contentType(CONTENT_TYPE).result(process(ctx.bodyAsBytes(), profile, raCa));
    }

    /** One exchange: the request, and how its answer is protected (signed by the RA until the request proves a secret). */
    private static final class Exchange {
        final Request request;
        Protector reply;
        CmpTransaction transaction;

        Exchange(Request request, CertificateAuthority ra) {
            this.request = request;
            this.reply = new Protector.Signature(ra.certificate(), ra.key());
        }
    }

    byte[] process(byte[] der, Profile profile, CertificateAuthority raCa) {
        Instant now = s.clock().instant();
        Request r;
        try {
            r = CmpMessage.read(der, now);
        } catch (Failure f) {
            if (f.request() == null) {
                throw new HttpProblem(400, "bad-message", "Not a CMP message", f.getMessage());
            }
            LOG.info("CMP request {} refused: {}", f.request().transactionHex(), f.getMessage());
            return answer(new Exchange(f.request(), raCa), CmpMessage.error(f.failInfo(), f.getMessage()), List.of(), false);
        }
        Exchange ex = new Exchange(r, raCa);
        try {
            return switch (r.bodyType()) {
                case PKIBody.TYPE_INIT_REQ, PKIBody.TYPE_CERT_REQ, PKIBody.TYPE_P10_CERT_REQ, PKIBody.TYPE_KEY_UPDATE_REQ -> certRequest(ex, profile);
                case PKIBody.TYPE_CERT_CONFIRM -> certConf(ex);
                case PKIBody.TYPE_POLL_REQ -> poll(ex);
                case PKIBody.TYPE_REVOCATION_REQ -> revocation(ex);
                case PKIBody.TYPE_GEN_MSG -> general(ex, profile);
                default -> throw new Failure(PKIFailureInfo.badRequest, "PKIBody type " + r.bodyType() + " is not served here; send ir, cr, p10cr, kur, "
                        + "certConf, pollReq, rr or genm", r);
            };
        } catch (Failure f) {
            LOG.info("CMP request {} refused: {}", r.transactionHex(), f.getMessage());
            // a refused request ends its transaction; a refused certConf or pollReq leaves it as it was: an issued certificate
            // still waits for a valid certConf (and is revoked without one), a pending request can still be polled
            if (ex.transaction != null && ex.transaction.state() == CmpTransaction.State.OPEN) {
                moveOn(ex.transaction, ex.transaction.with(CmpTransaction.State.FAILED, null, null, null, null));
            }
            return answer(ex, CmpMessage.error(f.failInfo(), f.getMessage()), List.of(), false);
        }
    }

    private byte[] answer(Exchange ex, PKIBody body, List<X509Certificate> extraCerts, boolean implicitConfirm) {
        return CmpMessage.answer(ex.request, body, ex.reply, extraCerts, implicitConfirm, s.clock().instant()).der();
    }

    /** An answer whose senderNonce the transaction remembers (the client's next message echoes it). */
    private byte[] answer(Exchange ex, PKIBody body, List<X509Certificate> extraCerts, boolean implicitConfirm, CmpTransaction next) {
        CmpMessage.Answer out = CmpMessage.answer(ex.request, body, ex.reply, extraCerts, implicitConfirm, s.clock().instant());
        CmpTransaction withNonce = next.with(next.state(), HexFormat.of().formatHex(out.senderNonce()), next.requestId(), next.serial(), next.confirmBy());
        moveOn(ex.transaction, withNonce);
        ex.transaction = withNonce;
        return out.der();
    }

    private void moveOn(CmpTransaction read, CmpTransaction next) {
        if (!s.cmp().updateCmpTransaction(read, next)) {
            LOG.warn("CMP transaction {} moved on meanwhile (was {})", read.id(), read.state());
        }
    }

    // ---- who asks ----

    /** What authenticated a request: the enrollment credential, how the transaction names it, and the device a MAC names. */
    private record Authenticated(EnrollmentCredential credential, String name, String deviceId) {}

    /**
     * The request's credential from its protection. A MAC must verify with the one-time secret of
     * the device its senderKID names; a signature must verify with the first extraCert, which must
     * be a credential (the rest of extraCerts are its chain).
     */
    private Authenticated authenticate(Exchange ex) throws Failure {
        Request r = ex.request;
        if (r.protection() != CmpMessage.Protection.SIGNATURE) {
            if (r.senderKid() == null || r.senderKid().isBlank()) {
                throw new Failure(PKIFailureInfo.badRequest, "a MAC-protected request names its device in senderKID (openssl cmp -ref DEVICE-ID)", r);
            }
            EnrollmentSecret secret = s.credentials().newestEnrollmentSecret(r.senderKid()).orElseThrow(() -> new Failure(
                    PKIFailureInfo.notAuthorized, "the MAC does not verify with a one-time secret of device '" + r.senderKid() + "'", r));
            char[] text = macSecret(r, secret);
            if (text == null) {
                throw new Failure(PKIFailureInfo.notAuthorized, "the MAC does not verify with a one-time secret of device '" + r.senderKid()
                        + "'; ask the operator for a new one (fleetpki device secret " + r.senderKid() + ")", r);
            }
            ex.reply = new Protector.Mac(text); // from here on, answers carry a MAC with the same secret
            // the MAC proved the secret, of this device; it must still be unused and unexpired (a genm does not use it up)
            if (!secret.usableAt(s.clock().instant())) {
                throw new Failure(PKIFailureInfo.notAuthorized, "this enrollment secret was already used or has expired; ask the operator for a new "
                        + "one (fleetpki device secret " + secret.deviceId() + ")", r);
            }
            return new Authenticated(new EnrollmentCredential.Secret(secret), "secret:" + secret.id(), secret.deviceId());
        }
        X509Certificate[] chain = signedBy(r);
        try {
            return new Authenticated(credentials.signerCertificate(chain), "certificate:" + Fingerprints.of(chain[0]), null);
        } catch (HttpProblem e) {
            throw new Failure(PKIFailureInfo.notAuthorized, e.getMessage(), r);
        }
    }

    /** The secret's text when the request's MAC verifies with it, else null. */
    private char[] macSecret(Request r, EnrollmentSecret secret) {
        char[] text = s.secrets().text(secret).toCharArray();
        return r.protection() != CmpMessage.Protection.SIGNATURE && CmpMessage.macValid(r, text) ? text : null;
    }

    /** The protection certificate and the rest of extraCerts, once the request's signature verifies with the first. */
    private static X509Certificate[] signedBy(Request r) throws Failure {
        List<X509Certificate> chain = r.extraCertificates();
        if (chain.isEmpty()) {
            throw new Failure(PKIFailureInfo.badMessageCheck, "a signature-protected request carries its protection certificate first in extraCerts", r);
        }
        if (!CmpMessage.signatureValid(r, chain.getFirst())) {
            throw new Failure(PKIFailureInfo.badMessageCheck, "the protection signature does not verify with the first certificate in extraCerts "
                    + "(RFC 9483 3.2: the protection certificate comes first)", r);
        }
        return chain.toArray(X509Certificate[]::new);
    }

    /** A later message of a transaction must be protected by what protected its first. */
    private void authenticateAgain(Exchange ex, CmpTransaction t) throws Failure {
        Request r = ex.request;
        if (t.credential().startsWith("secret:")) {
            EnrollmentSecret secret = s.credentials().enrollmentSecret(t.credential().substring("secret:".length())).orElseThrow(() -> new Failure(
                    PKIFailureInfo.badMessageCheck, "the transaction's secret is gone", r));
            char[] text = macSecret(r, secret);
            if (text == null) {
                throw new Failure(PKIFailureInfo.badMessageCheck, "this message is not protected by the MAC that protected the transaction's request", r);
            }
            ex.reply = new Protector.Mac(text);
            return;
        }
        String fp = Fingerprints.of(signedBy(r)[0]);
        boolean same = t.credential().equals("certificate:" + fp);
        boolean issued = t.serial() != null && s.certificates().certificate(t.serial()).map(c -> Fingerprints.of(c.issued().certificate()).equals(fp))
                .orElse(false);
        if (!(same || issued)) {
            throw new Failure(PKIFailureInfo.badMessageCheck, "this message is not signed by the certificate that signed the transaction's request "
                    + "(or the one it issued)", r);
        }
    }

    private void begin(Exchange ex, Authenticated who, int answerType, String deviceId) throws Failure {
        CmpTransaction t = new CmpTransaction(ex.request.transactionHex(), deviceId, who.name(), answerType, CmpTransaction.State.OPEN, null, null,
                null, s.clock().instant(), null);
        try {
            s.cmp().beginCmpTransaction(t);
        } catch (PkiException e) {
            if (e.kind() == ErrorKind.CONFLICT) {
                throw new Failure(PKIFailureInfo.transactionIdInUse, "transactionID " + t.id() + " was used before; start every transaction with a new "
                        + "random transactionID", ex.request);
            }
            throw e;
        }
        ex.transaction = t;
    }

    private CmpTransaction transaction(Exchange ex, CmpTransaction.State expected) throws Failure {
        Request r = ex.request;
        CmpTransaction t = s.cmp().cmpTransaction(r.transactionHex()).orElseThrow(() -> new Failure(PKIFailureInfo.badRequest,
                "no transaction " + r.transactionHex() + " is open here; start with ir, cr, p10cr or kur", r));
        authenticateAgain(ex, t);
        if (t.state() != expected) {
            throw new Failure(PKIFailureInfo.badRequest, "transaction " + t.id() + " is " + t.state().configName() + ", not "
                    + expected.configName(), r);
        }
        if (r.recipNonce() == null || t.serverNonce() == null || !HexFormat.of().formatHex(r.recipNonce()).equals(t.serverNonce())) {
            throw new Failure(PKIFailureInfo.badRecipientNonce, "the recipNonce is not the senderNonce of the server's last answer in this transaction", r);
        }
        ex.transaction = t;
        return t;
    }

    // ---- certificate requests ----

    private byte[] certRequest(Exchange ex, Profile profile) throws Failure {
        Request r = ex.request;
        int type = r.bodyType();
        boolean renewal = type == PKIBody.TYPE_KEY_UPDATE_REQ;
        Authenticated who = authenticate(ex);
        if (renewal && !(who.credential() instanceof EnrollmentCredential.Renewal)) {
            throw new Failure(PKIFailureInfo.notAuthorized, "a kur is signed with the device's current certificate from this CA (openssl cmp -cert "
                    + "CURRENT.pem -key CURRENT.key)", r);
        }
        int answerType = switch (type) {
            case PKIBody.TYPE_INIT_REQ -> PKIBody.TYPE_INIT_REP;
            case PKIBody.TYPE_KEY_UPDATE_REQ -> PKIBody.TYPE_KEY_UPDATE_REP;
            default -> PKIBody.TYPE_CERT_REP;
        };
        UntrustedCsr csr;
        BigInteger certReqId;
        try {
            if (type == PKIBody.TYPE_P10_CERT_REQ) {
                csr = UntrustedCsr.parse(r.message().getBody().getContent().toASN1Primitive().getEncoded("DER"));
                certReqId = BigInteger.valueOf(-1);
            } else {
                CertReqMsg[] msgs = CertReqMessages.getInstance(r.message().getBody().getContent()).toCertReqMsgArray();
                if (msgs.length != 1) {
                    throw new Failure(PKIFailureInfo.badRequest, "send one certificate request per message (RFC 9483 4.1.1), not " + msgs.length, r);
                }
                certReqId = msgs[0].getCertReq().getCertReqId().getValue();
                csr = UntrustedCsr.parseCertReqMsg(msgs[0].getEncoded("DER"));
            }
        } catch (PkiException e) {
            if (e.kind() == ErrorKind.UNAVAILABLE) {
                throw e; // not a refusal: HTTP 503 with Retry-After, and the client sends the same request again
            }
            throw new Failure(failInfo(e.kind()), e.detail(), r);
        } catch (java.io.IOException | RuntimeException e) {
            throw new Failure(PKIFailureInfo.badDataFormat, "the certificate request does not parse", r);
        }
        String device = who.deviceId() != null ? who.deviceId() : deviceOf(who.credential(), csr);
        begin(ex, who, answerType, device); // a CN that is not the device is refused (and audited) by the pipeline: badCertTemplate
        Enrollment.Outcome outcome;
        try {
            outcome = enrollment.enroll(who.credential(), csr, profile.name(), null, renewal ? "cmp-renewal" : "cmp", renewal);
        } catch (PkiException e) {
            if (e.kind() == ErrorKind.UNAVAILABLE) {
                throw e; // not a refusal: HTTP 503 with Retry-After, and the client sends the same request again
            }
            throw new Failure(failInfo(e.kind()), e.detail(), r);
        } catch (HttpProblem e) {
            throw new Failure(PKIFailureInfo.notAuthorized, e.getMessage(), r);
        }
        return switch (outcome) {
            case Enrollment.Issued i -> issued(ex, answerType, certReqId, i.certificate());
            case Enrollment.Pending p -> {
                CmpTransaction next = ex.transaction.with(CmpTransaction.State.PENDING, null, p.request().id(), null, null);
                yield answer(ex, new PKIBody(answerType, new CertRepMessage(null, new CertResponse[] {new CertResponse(new ASN1Integer(certReqId),
                        CmpMessage.status(PKIStatus.WAITING, 0, "kept for an operator as request " + p.request().id() + "; poll with pollReq"))})),
                        List.of(), false, next);
            }
            case Enrollment.Conflict c -> throw new Failure(PKIFailureInfo.duplicateCertReq, c.detail(), r);
            case Enrollment.RateLimited l -> throw new Failure(PKIFailureInfo.systemUnavail, l.detail() + "; retry in " + l.retryAfterSeconds()
                    + " s", r);
            default -> throw new Failure(PKIFailureInfo.systemFailure, "unexpected outcome", r);
        };
    }

    private static String deviceOf(EnrollmentCredential cred, UntrustedCsr csr) {
        return switch (cred) {
            case EnrollmentCredential.Renewal rn -> rn.current().issued().deviceId();
            case EnrollmentCredential.Manufacturer m -> m.deviceId();
            default -> csr.commonName();
        };
    }

    /** The ip/cp/kup with the certificate; the transaction waits for certConf unless implicitConfirm is granted. */
    private byte[] issued(Exchange ex, int answerType, BigInteger certReqId, IssuedCertificate c) {
        boolean implicit = ex.request.implicitConfirm() && implicitConfirmAllowed;
        Instant now = s.clock().instant();
        List<X509Certificate> chain = caChain(c.caName());
        CMPCertificate[] caPubs = null;
        if (ex.reply instanceof Protector.Mac && !chain.isEmpty()) { // the device has no trust anchor yet: the root comes in caPubs (RFC 9483 4.1.5)
            caPubs = new CMPCertificate[] {new CMPCertificate(Certificate.getInstance(der(chain.getLast())))};
        }
        CertResponse resp = new CertResponse(new ASN1Integer(certReqId), CmpMessage.status(PKIStatus.GRANTED, 0, null),
                new CertifiedKeyPair(new CertOrEncCert(new CMPCertificate(Certificate.getInstance(c.der())))), null);
        CmpTransaction next = ex.transaction.with(implicit ? CmpTransaction.State.CONFIRMED : CmpTransaction.State.ISSUED, null,
                ex.transaction.requestId(), c.serialHex(), implicit ? null : now.plus(CONFIRM_WAIT));
        return answer(ex, new PKIBody(answerType, new CertRepMessage(caPubs, new CertResponse[] {resp})), chain, implicit, next);
    }

    // ---- certConf, pollReq ----

    private byte[] certConf(Exchange ex) throws Failure {
        Request r = ex.request;
        CmpTransaction t = transaction(ex, CmpTransaction.State.ISSUED);
        CertStatus[] statuses;
        try {
            statuses = CertConfirmContent.getInstance(r.message().getBody().getContent()).toCertStatusArray();
        } catch (RuntimeException e) {
            throw new Failure(PKIFailureInfo.badDataFormat, "the certConf content does not parse", r);
        }
        StoredCertificate cert = s.certificates().certificate(t.serial()).orElseThrow();
        if (statuses.length != 1 || !Arrays.equals(statuses[0].getCertHash().getOctets(), certHash(cert.issued(), statuses[0]))) {
            throw new Failure(PKIFailureInfo.badCertId, "the certConf must confirm the one certificate of this transaction by its hash", r);
        }
        boolean accepted = statuses[0].getStatusInfo() == null || statuses[0].getStatusInfo().getStatus().intValue() == PKIStatus.GRANTED
                || statuses[0].getStatusInfo().getStatus().intValue() == PKIStatus.GRANTED_WITH_MODS;
        if (!accepted) {
            revoke(t, "rejected by the client in certConf");
        }
        return answer(ex, new PKIBody(PKIBody.TYPE_CONFIRM, DERNull.INSTANCE), List.of(), false,
                t.with(accepted ? CmpTransaction.State.CONFIRMED : CmpTransaction.State.REVOKED, null, t.requestId(), t.serial(), null));
    }

    /** RFC 9810 5.3.18: the hash with hashAlg when given, else with the digest of the certificate's signature algorithm. */
    private static byte[] certHash(IssuedCertificate c, CertStatus status) throws Failure {
        try {
            String digest = status.getHashAlg() != null ? status.getHashAlg().getAlgorithm().getId()
                    : new DefaultDigestAlgorithmIdentifierFinder().find(Certificate.getInstance(c.der()).getSignatureAlgorithm()).getAlgorithm().getId();
            return MessageDigest.getInstance(digest, dev.fleetpki.kms.Crypto.bc()).digest(c.der());
        } catch (NoSuchAlgorithmException | RuntimeException e) {
            return new byte[0];
        }
    }

    private byte[] poll(Exchange ex) throws Failure {
        Request r = ex.request;
        CmpTransaction t = transaction(ex, CmpTransaction.State.PENDING);
        BigInteger certReqId;
        try {
            certReqId = PollReqContent.getInstance(r.message().getBody().getContent()).getCertReqIdValues()[0];
        } catch (RuntimeException e) {
            throw new Failure(PKIFailureInfo.badDataFormat, "the pollReq content does not parse", r);
        }
        EnrollmentRequest req = s.requests().request(t.requestId()).orElseThrow(() -> new Failure(PKIFailureInfo.systemFailure,
                "the request " + t.requestId() + " is gone", r));
        return switch (req.status()) {
            case PENDING -> answer(ex, new PKIBody(PKIBody.TYPE_POLL_REP, new PollRepContent(new ASN1Integer(certReqId),
                    new ASN1Integer(CHECK_AFTER_SECONDS))), List.of(), false, t.with(CmpTransaction.State.PENDING, null, t.requestId(), null, null));
            case ISSUED -> issued(ex, t.answerType(), certReqId, s.certificates().certificate(req.serial()).orElseThrow().issued());
            case REJECTED -> throw new Failure(PKIFailureInfo.notAuthorized, "request " + req.id() + " was rejected by " + req.decidedBy()
                    + (req.reason() == null ? "" : ": " + req.reason()), r);
        };
    }

    // ---- revocation ----

    /**
     * rr (RFC 9483 4.2): signed by the certificate to be revoked (a device revoking its own), or
     * by an operator's certificate with the issuer or admin role.
     */
    private byte[] revocation(Exchange ex) throws Failure {
        Request r = ex.request;
        if (r.protection() != CmpMessage.Protection.SIGNATURE) {
            throw new Failure(PKIFailureInfo.notAuthorized, "a revocation request is signed by the certificate to revoke, or by an operator's", r);
        }
        X509Certificate[] chain = signedBy(r);
        RevDetails[] details;
        try {
            details = RevReqContent.getInstance(r.message().getBody().getContent()).toRevDetailsArray();
        } catch (RuntimeException e) {
            throw new Failure(PKIFailureInfo.badDataFormat, "the rr content does not parse", r);
        }
        if (details.length != 1 || details[0].getCertDetails().getSerialNumber() == null) {
            throw new Failure(PKIFailureInfo.badRequest, "send one RevDetails naming the certificate by serialNumber and issuer (RFC 9483 4.2)", r);
        }
        CertTemplate template = details[0].getCertDetails();
        String serial = template.getSerialNumber().getValue().toString(16);
        StoredCertificate target = s.certificates().certificate(serial).orElseThrow(() -> new Failure(PKIFailureInfo.badCertId,
                "no certificate with serial " + serial + " was issued here", r));
        if (template.getIssuer() != null && !template.getIssuer().equals(org.bouncycastle.asn1.x500.X500Name.getInstance(
                target.issued().certificate().getIssuerX500Principal().getEncoded()))) {
            throw new Failure(PKIFailureInfo.badCertId, "certificate " + serial + " was not issued by " + template.getIssuer(), r);
        }
        Actor actor;
        if (Arrays.equals(der(chain[0]), target.issued().der())) {
            actor = Actor.parse("device:" + target.issued().deviceId());
        } else {
            Optional<ApiToken> operator = auth.operator(chain[0]);
            if (operator.isEmpty() || !(operator.get().role() == Role.ADMIN || operator.get().role() == Role.ISSUER)) {
                throw new Failure(PKIFailureInfo.notAuthorized, "a revocation request is signed by the certificate it revokes, or by an operator "
                        + "certificate with the issuer or admin role (fleetpki token create NAME --role issuer --client-cert FILE)", r);
            }
            actor = ApiAuth.actor(operator.get());
        }
        begin(ex, new Authenticated(null, "certificate:" + Fingerprints.of(chain[0]), target.issued().deviceId()), PKIBody.TYPE_REVOCATION_REP,
                target.issued().deviceId());
        if (target.revoked()) {
            throw new Failure(PKIFailureInfo.certRevoked, "certificate " + serial + " is already revoked", r);
        }
        RevocationReason reason = reason(details[0].getCrlEntryDetails(), r);
        Instant now = s.clock().instant();
        s.certificates().revoke(serial, reason, now, new AuditEvent(now, actor, AuditAction.CERTIFICATE_REVOKE, "serial:" + serial,
                Map.of("reason", reason.configName(), "via", "cmp")));
        s.revocation().revoked(List.of(serial));
        return answer(ex, new PKIBody(PKIBody.TYPE_REVOCATION_REP, new RevRepContentBuilder().add(CmpMessage.status(PKIStatus.GRANTED, 0, null))
                .build()), List.of(), false, ex.transaction.with(CmpTransaction.State.CONFIRMED, null, null, serial, null));
    }

    private static RevocationReason reason(Extensions ext, Request r) throws Failure {
        if (ext == null || ext.getExtension(Extension.reasonCode) == null) {
            return RevocationReason.UNSPECIFIED;
        }
        int code;
        try {
            code = ASN1Enumerated.getInstance(ext.getExtension(Extension.reasonCode).getParsedValue()).intValueExact();
        } catch (RuntimeException e) {
            throw new Failure(PKIFailureInfo.badDataFormat, "the reasonCode does not parse", r);
        }
        for (RevocationReason reason : RevocationReason.values()) {
            if (reason.code() == code && reason != RevocationReason.CA_COMPROMISE && reason != RevocationReason.AA_COMPROMISE) {
                return reason;
            }
        }
        throw new Failure(PKIFailureInfo.badRequest, "revocation reason " + code + " cannot be asked for here", r);
    }

    /** Revokes a certificate its transaction did not keep (rejected or unconfirmed), audited by the system. */
    private void revoke(CmpTransaction t, String why) {
        Instant now = s.clock().instant();
        s.certificates().revoke(t.serial(), RevocationReason.CESSATION_OF_OPERATION, now, new AuditEvent(now, Actor.system(),
                AuditAction.CERTIFICATE_REVOKE, "serial:" + t.serial(), Map.of("reason", RevocationReason.CESSATION_OF_OPERATION.configName(),
                "via", "cmp", "why", why, "transaction", t.id())));
        s.revocation().revoked(List.of(t.serial()));
    }

    /** Revokes the certificates whose confirmation is overdue at {@code asOf} (RFC 9810 5.3.18); returns how many. */
    int revokeUnconfirmed(Instant asOf) {
        int n = 0;
        for (CmpTransaction t : s.cmp().unconfirmedCmpTransactions(asOf, 100)) {
            if (s.cmp().updateCmpTransaction(t, t.with(CmpTransaction.State.REVOKED, t.serverNonce(), t.requestId(), t.serial(), null))) {
                revoke(t, "not confirmed within " + CONFIRM_WAIT.toSeconds() + " s");
                LOG.info("CMP transaction {}: certificate {} was not confirmed in time and is revoked", t.id(), t.serial());
                n++;
            }
        }
        return n;
    }

    // ---- genm ----

    /**
     * genm (RFC 9483 4.3): CA certificates, the root CA update, the current CRLs. The caller must
     * be authenticated (any credential; an unused secret stays unused, a used one is refused),
     * though the answers are public.
     */
    private byte[] general(Exchange ex, Profile profile) throws Failure {
        Request r = ex.request;
        authenticate(ex);
        InfoTypeAndValue[] asked;
        try {
            asked = GenMsgContent.getInstance(r.message().getBody().getContent()).toInfoTypeAndValueArray();
        } catch (RuntimeException e) {
            throw new Failure(PKIFailureInfo.badDataFormat, "the genm content does not parse", r);
        }
        String caName = s.pipeline().issuerFor(profile);
        List<X509Certificate> chain = caChain(caName);
        List<InfoTypeAndValue> out = new ArrayList<>();
        ASN1EncodableVector unsupported = new ASN1EncodableVector();
        for (InfoTypeAndValue itv : asked.length == 0 ? new InfoTypeAndValue[] {new InfoTypeAndValue(IT_CA_CERTS)} : asked) {
            ASN1ObjectIdentifier type = itv.getInfoType();
            if (type.equals(IT_CA_CERTS)) {
                out.add(new InfoTypeAndValue(IT_CA_CERTS, certs(chain)));
            } else if (type.equals(IT_ROOT_CA_CERT)) {
                out.add(rootCaKeyUpdate(itv, r));
            } else if (type.equals(IT_CRL_STATUS_LIST) || type.equals(IT_CURRENT_CRL)) {
                Optional<CertificateList> crl = s.revocation().crl(caName, 0).map(c -> CertificateList.getInstance(c.der()));
                if (type.equals(IT_CURRENT_CRL)) {
                    out.add(crl.map(c -> new InfoTypeAndValue(IT_CURRENT_CRL, c)).orElseGet(() -> new InfoTypeAndValue(IT_CURRENT_CRL)));
                } else {
                    out.add(crl.map(c -> new InfoTypeAndValue(IT_CRLS, new DERSequence(c))).orElseGet(() -> new InfoTypeAndValue(IT_CRLS)));
                }
            } else {
                unsupported.add(type);
            }
        }
        if (unsupported.size() > 0) {
            out.add(new InfoTypeAndValue(IT_UNSUPPORTED, new DERSequence(unsupported)));
        }
        return answer(ex, new PKIBody(PKIBody.TYPE_GEN_REP, new GenRepContent(out.toArray(InfoTypeAndValue[]::new))), List.of(), false);
    }

    /**
     * RFC 9483 4.3.2: the root CA key update for the root the client names (its rootCaCert value; a
     * client that names none means any root being rolled over): newWithNew, newWithOld and
     * oldWithNew of a published, not retired root rollover. Without one the value is absent.
     */
    private InfoTypeAndValue rootCaKeyUpdate(InfoTypeAndValue asked, Request r) throws Failure {
        X509Certificate named = null;
        if (asked.getInfoValue() != null) {
            try {
                named = (X509Certificate) java.security.cert.CertificateFactory.getInstance("X.509").generateCertificate(
                        new java.io.ByteArrayInputStream(CMPCertificate.getInstance(asked.getInfoValue()).getX509v3PKCert().getEncoded()));
            } catch (RuntimeException | java.io.IOException | java.security.cert.CertificateException e) {
                throw new Failure(PKIFailureInfo.badDataFormat, "the rootCaCert value is not a certificate", r);
            }
        }
        for (Rollover ro : s.caRecords().rollovers()) {
            if (ro.role() != CaRole.ROOT || !ro.atLeast(Rollover.Step.PUBLISHED) || ro.atLeast(Rollover.Step.RETIRED)) {
                continue;
            }
            X509Certificate oldRoot = s.caRecords().ca(ro.oldName()).orElseThrow().certificate();
            if (named != null && !named.equals(oldRoot)) {
                continue;
            }
            X509Certificate newRoot = s.caRecords().ca(ro.newName()).orElseThrow().certificate();
            return new InfoTypeAndValue(IT_ROOT_CA_KEY_UPDATE, new RootCaKeyUpdateContent(cmpCert(newRoot), cmpCert(ro.newWithOld()),
                    cmpCert(ro.oldWithNew())));
        }
        return new InfoTypeAndValue(IT_ROOT_CA_KEY_UPDATE); // no update for that root: the value is absent (RFC 9483 4.3.2)
    }

    private static CMPCertificate cmpCert(X509Certificate c) {
        try {
            return new CMPCertificate(org.bouncycastle.asn1.x509.Certificate.getInstance(c.getEncoded()));
        } catch (java.security.cert.CertificateEncodingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A CA's certificate and those above it, from the CA directory (kept in memory, not read from the store per request). */
    private List<X509Certificate> caChain(String caName) {
        CertificateAuthority ca = s.cas().get(caName);
        List<X509Certificate> chain = new ArrayList<>();
        chain.add(ca.certificate());
        chain.addAll(ca.chain());
        return chain;
    }

    private static ASN1Encodable certs(List<X509Certificate> chain) {
        ASN1EncodableVector v = new ASN1EncodableVector();
        for (X509Certificate c : chain) {
            v.add(new CMPCertificate(Certificate.getInstance(der(c))));
        }
        return new DERSequence(v);
    }

    /** The PKIFailureInfo bit for a refusal of the pipeline or authorizer. */
    static int failInfo(ErrorKind kind) {
        return switch (kind) {
            case MALFORMED_REQUEST -> PKIFailureInfo.badDataFormat;
            case BAD_SIGNATURE -> PKIFailureInfo.badPOP;
            case NAME_MISMATCH, KEY_POLICY -> PKIFailureInfo.badCertTemplate;
            case NOT_AUTHORIZED, DEVICE_NOT_ACTIVE, NOT_FOUND -> PKIFailureInfo.notAuthorized;
            case CONFLICT -> PKIFailureInfo.duplicateCertReq;
            default -> PKIFailureInfo.systemFailure;
        };
    }

    private static byte[] der(X509Certificate c) {
        try {
            return c.getEncoded();
        } catch (CertificateEncodingException e) {
            throw new IllegalStateException(e);
        }
    }
}
