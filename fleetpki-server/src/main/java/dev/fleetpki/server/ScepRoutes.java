package dev.fleetpki.server;

import dev.fleetpki.core.CaRecord;
import dev.fleetpki.core.CaRollover;
import dev.fleetpki.core.CertificateAuthority;
import dev.fleetpki.core.EnrollmentCredential;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.Profile;
import dev.fleetpki.core.UntrustedCsr;
import dev.fleetpki.core.enrollment.Enrollment;
import dev.fleetpki.server.scep.ScepMessage;
import dev.fleetpki.server.scep.ScepRa;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import org.bouncycastle.asn1.ASN1Sequence;
import org.bouncycastle.asn1.x500.X500Name;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * SCEP (RFC 8894) at {@code /scep[/<label>]?operation=...}: GetCACaps, GetCACert (the RA and CA
 * certificates) and PKIOperation (GET with {@code message=}, or POST). A PKCSReq's credential is
 * its challengePassword: the device's one-time enrollment secret, for the device its CSR names;
 * the fleet rule, the profile scope and the pipeline decide as for EST ({@link Enrollment}). The
 * answer to a readable request is always a signed CertRep (SUCCESS, PENDING or FAILURE with its
 * failInfo); only a message too broken to answer gets HTTP 400.
 */
final class ScepRoutes {
    private static final Logger LOG = LoggerFactory.getLogger(ScepRoutes.class);
    /** What this server does (RFC 8894 3.5.2); GetNextCACert too while a successor of the label's CA is published (docs/rollover.md). */
    static final String CAPS = "AES\nPOSTPKIOperation\nRenewal\nSHA-256\nSHA-512\nSCEPStandard\n";

    private final Services s;
    private final Credentials credentials;
    private final Enrollment enrollment;
    private final ScepRa ra;

    ScepRoutes(Services s, Credentials credentials, Enrollment enrollment, ScepRa ra) {
        this.s = s;
        this.credentials = credentials;
        this.enrollment = enrollment;
        this.ra = ra;
    }

    void register(RoutesConfig app) {
        app.get("/scep", ctx -> handle(ctx, EstRoutes.DEFAULT_LABEL, false));
        app.get("/scep/{label}", ctx -> handle(ctx, ctx.pathParam("label"), false));
        app.post("/scep", ctx -> handle(ctx, EstRoutes.DEFAULT_LABEL, true));
        app.post("/scep/{label}", ctx -> handle(ctx, ctx.pathParam("label"), true));
    }

    private void handle(Context ctx, String label, boolean post) throws Exception {
        Profile profile = s.config().profile(label).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND,
                "no SCEP label '" + label + "'; a label is a certificate profile name: " + String.join(", ", new java.util.TreeSet<>(s.config().profiles().keySet()))));
        String operation = String.valueOf(ctx.queryParam("operation"));
        switch (operation) {
            case "GetCACaps" -> ctx.contentType("text/plain; charset=us-ascii").result(CaRollover.nextCa(s.caRecords(),
                    s.pipeline().issuerFor(profile)).isPresent() ? "GetNextCACert\n" + CAPS : CAPS);
            case "GetCACert" -> {
                CertificateAuthority ra = this.ra.forCa(s.pipeline().issuerFor(profile));
                // the RA certificate, and of the CA chain only RSA certificates: clients (micromdm's scepclient 2.1) encrypt their
                // request to every certificate GetCACert returns, and an ECDSA CA key cannot be encrypted to
                List<byte[]> certs = new ArrayList<>();
                certs.add(ra.certificate().getEncoded());
                for (X509Certificate c : ra.chain()) {
                    if ("RSA".equals(c.getPublicKey().getAlgorithm())) {
                        certs.add(c.getEncoded());
                    }
                }
                ctx.contentType("application/x-x509-ca-ra-cert").result(CertsOnly.der(certs));
            }
            case "PKIOperation" -> {
                byte[] message = post ? ctx.bodyAsBytes() : mime(ctx.queryParam("message"));
                ctx.contentType("application/x-pki-message").result(pkiOperation(message, profile));
            }
            // RFC 8894 4.7: the next CA's certificate while a rollover has published it and not yet switched to it
            case "GetNextCACert" -> {
                String current = s.pipeline().issuerFor(profile);
                CaRecord next = CaRollover.nextCa(s.caRecords(), current).orElseThrow(() -> new HttpProblem(404, "no-next-ca", "No CA rollover",
                        "no rollover of CA '" + current + "' is published, so there is no next CA certificate; GetCACaps lists "
                                + "GetNextCACert only while there is one"));
                CertificateAuthority ra = this.ra.forCa(current);
                ctx.contentType("application/x-x509-next-ca-cert").result(ScepMessage.nextCaCert(s.cas().chainFrom(next), ra.certificate(), ra.key()));
            }
            default -> throw new HttpProblem(400, "bad-operation", "Unknown SCEP operation", "operation must be GetCACaps, GetCACert or "
                    + "PKIOperation (RFC 8894 4), not '" + operation + "'");
        }
    }

    /**
     * CertPoll (RFC 8894 3.3.3) for a request kept for an operator: the poll names the device in
     * its IssuerAndSubject and is signed with the key of the request it polls for (the key the
     * CSR certifies, as a client signs both with its one key). Still pending: PENDING; approved:
     * SUCCESS with the certificate issued for that key; anything else: FAILURE badCertId. The
     * certificate goes to whoever holds the key it certifies, so nothing is revealed to others.
     */
    private byte[] certPoll(ScepMessage.Request req, Profile profile, CertificateAuthority ra) {
        String device;
        try {
            ASN1Sequence ias = ASN1Sequence.getInstance(req.content());
            device = UntrustedCsr.commonName(X500Name.getInstance(ias.getObjectAt(1)));
        } catch (RuntimeException e) {
            return ScepMessage.failure(req, ScepMessage.FailInfo.BAD_REQUEST, ra.certificate(), ra.key());
        }
        if (device == null) {
            return ScepMessage.failure(req, ScepMessage.FailInfo.BAD_CERT_ID, ra.certificate(), ra.key());
        }
        byte[] key = req.signer().getPublicKey().getEncoded();
        boolean pending = s.requests().pendingRequest(device, profile.name())
                .filter(r -> Arrays.equals(UntrustedCsr.stored(r.csrDer()).publicKey().getEncoded(), key)).isPresent();
        if (pending) {
            return ScepMessage.pending(req, ra.certificate(), ra.key());
        }
        return s.certificates().certificates(device, s.clock().instant(), null, 20).stream()
                .filter(c -> !c.revoked() && c.issued().profile().equals(profile.name()))
                .filter(c -> Arrays.equals(c.issued().certificate().getPublicKey().getEncoded(), key))
                .findFirst()
                .map(c -> ScepMessage.success(req, List.of(c.issued().certificate()), ra.certificate(), ra.key()))
                .orElseGet(() -> ScepMessage.failure(req, ScepMessage.FailInfo.BAD_CERT_ID, ra.certificate(), ra.key()));
    }

    /**
     * Who asks: a RenewalReq is signed by the device's current certificate (the signature proves its
     * key); a PKCSReq signed by that certificate renews too; any other PKCSReq carries the device's
     * one-time secret as its challengePassword, or is signed by a factory station's certificate (or
     * a manufacturer IDevID) instead of a self-signed one.
     */
    private EnrollmentCredential credential(ScepMessage.Request req, UntrustedCsr csr, boolean renewal) {
        if (renewal) {
            EnrollmentCredential cred = credentials.signerCertificate(req.signer());
            if (!(cred instanceof EnrollmentCredential.Renewal)) {
                throw new PkiException(ErrorKind.NOT_AUTHORIZED, "a RenewalReq is signed by the device's current certificate from this CA");
            }
            return cred;
        }
        // a PKCSReq signed by the device's current certificate from this CA is a renewal (certmonger's rekey sends one, with
        // the old challengePassword still in the CSR; RFC 8894 3.3.1.2 lets a client renew so)
        if (req.signer() != null && s.certificates().certificate(req.signer().getSerialNumber().toString(16)).isPresent()) {
            try {
                EnrollmentCredential cred = credentials.signerCertificate(req.signer());
                if (cred instanceof EnrollmentCredential.Renewal) {
                    return cred;
                }
            } catch (HttpProblem e) {
                // not a usable current certificate: the challenge decides, as for any PKCSReq
            }
        }
        String challenge = csr.challengePassword();
        if (challenge != null) {
            return credentials.enrollmentSecret(csr.commonName(), challenge);
        }
        // no challenge: the signer certificate must be a credential itself (a registered station's, by its fingerprint; an
        // IDevID); a client's throwaway self-signed certificate is none, and is refused
        return credentials.signerCertificate(req.signer());
    }

    private static byte[] mime(String base64) {
        if (base64 == null) {
            throw new HttpProblem(400, "bad-message", "No message", "a GET PKIOperation carries the pkiMessage as message=BASE64");
        }
        try {
            return Base64.getMimeDecoder().decode(base64.replace(' ', '+'));
        } catch (IllegalArgumentException e) {
            throw new HttpProblem(400, "bad-message", "Bad message", "message= is not base64");
        }
    }

    private byte[] pkiOperation(byte[] message, Profile profile) throws CertificateEncodingException {
        String ca = s.pipeline().issuerFor(profile);
        CertificateAuthority ra = this.ra.forCa(ca);
        ScepMessage.Request req;
        try {
            req = ScepMessage.read(message, ra.certificate(), ra.key().handle(), ra.key().provider());
        } catch (ScepMessage.Failure f) {
            if (f.request() == null) {
                throw new HttpProblem(400, "bad-message", "Not a SCEP message", f.getMessage());
            }
            LOG.info("SCEP request {} refused: {}", f.request().transactionId(), f.getMessage());
            return ScepMessage.failure(f.request(), f.info(), ra.certificate(), ra.key());
        }
        if (req.type() == ScepMessage.Type.CERT_POLL) {
            return certPoll(req, profile, ra);
        }
        if (req.type() != ScepMessage.Type.PKCS_REQ && req.type() != ScepMessage.Type.RENEWAL_REQ) {
            LOG.info("SCEP request {}: message type {} is not served yet", req.transactionId(), req.type());
            return ScepMessage.failure(req, ScepMessage.FailInfo.BAD_REQUEST, ra.certificate(), ra.key());
        }
        try {
            UntrustedCsr csr = UntrustedCsr.parse(req.content());
            EnrollmentCredential cred = credential(req, csr, req.type() == ScepMessage.Type.RENEWAL_REQ);
            // every message carries a new random senderNonce (RFC 8894 3.2.1.5): one seen before is a captured message sent
            // again. Remembered once the credential is accepted, so that only authenticated requests add to the table
            if (!s.nonces().firstSeen("scep", HexFormat.of().formatHex(req.senderNonce()), s.clock().instant())) {
                LOG.info("SCEP request {} refused: its senderNonce was seen before (a replay)", req.transactionId());
                return ScepMessage.failure(req, ScepMessage.FailInfo.BAD_MESSAGE_CHECK, ra.certificate(), ra.key());
            }
            boolean renewal = cred instanceof EnrollmentCredential.Renewal;
            Enrollment.Outcome outcome = enrollment.enroll(cred, csr, profile.name(), null, renewal ? "scep-renewal" : "scep", renewal);
            return switch (outcome) {
                // the issued certificate alone: a certs-only SignedData keeps its certificates in a SET, which DER sorts, and
                // clients (micromdm's scepclient) take the first one; the CA certificates come from GetCACert and EST cacerts
                case Enrollment.Issued i -> ScepMessage.success(req, List.of(i.certificate().certificate()), ra.certificate(), ra.key());
                case Enrollment.Pending p -> ScepMessage.pending(req, ra.certificate(), ra.key());
                case Enrollment.Conflict c -> ScepMessage.pending(req, ra.certificate(), ra.key());
                default -> {
                    LOG.info("SCEP request {}: {}", req.transactionId(), outcome.getClass().getSimpleName());
                    yield ScepMessage.failure(req, ScepMessage.FailInfo.BAD_REQUEST, ra.certificate(), ra.key());
                }
            };
        } catch (PkiException e) {
            if (e.kind() == ErrorKind.UNAVAILABLE) {
                throw e; // not a refusal: HTTP 503 with Retry-After, and the client sends the same request again
            }
            LOG.info("SCEP request {} refused: {}", req.transactionId(), e.getMessage());
            return ScepMessage.failure(req, ScepMessage.FailInfo.BAD_REQUEST, ra.certificate(), ra.key());
        } catch (HttpProblem e) {
            LOG.info("SCEP request {} refused: {}", req.transactionId(), e.getMessage());
            return ScepMessage.failure(req, ScepMessage.FailInfo.BAD_REQUEST, ra.certificate(), ra.key());
        }
    }
}
