package dev.fleetpki.server;

import dev.fleetpki.core.Actor;
import dev.fleetpki.core.ApiToken;
import dev.fleetpki.core.EnrollmentCredential;
import dev.fleetpki.core.EnrollmentSecret;
import dev.fleetpki.core.Fingerprints;
import dev.fleetpki.core.ManufacturerCa;
import dev.fleetpki.core.Role;
import dev.fleetpki.core.Station;
import dev.fleetpki.core.StoredCertificate;
import dev.fleetpki.core.TokenSecrets;
import io.javalin.http.Context;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateFactory;
import java.security.cert.CertificateParsingException;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.Arrays;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.bouncycastle.asn1.x500.RDN;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x500.style.IETFUtils;

/**
 * Who is enrolling: the credential of an enrollment request (EST or REST), found and checked.
 * A TLS client certificate is tried first (a factory station's, an operator's, the device's
 * current certificate from this CA, or a manufacturer IDevID chaining to an imported vendor CA),
 * then the Authorization header (HTTP basic with a device id and its one-time secret, or a
 * bearer enrollment secret or API token). Every refusal is a 401 that says what to present, and
 * never which part of a secret was wrong.
 */
final class Credentials {
    static final Map<String, String> CHALLENGE = Map.of("WWW-Authenticate", "Basic realm=\"fleetpki enrollment\", Bearer realm=\"fleetpki\"");

    private final Services s;
    private final ApiAuth auth;

    Credentials(Services s, ApiAuth auth) {
        this.s = s;
        this.auth = auth;
    }

    /** The credential of this request, or a 401 problem. */
    EnrollmentCredential enrollment(Context ctx) {
        X509Certificate[] chain = ClientCertificates.chain(ctx);
        String header = ctx.header("Authorization");
        if (header != null) {
            return fromHeader(header);
        }
        if (chain != null) {
            return fromCertificate(chain);
        }
        throw unauthenticated("this endpoint needs an enrollment credential: HTTP basic with the device id and its enrollment secret, "
                + "a TLS client certificate (manufacturer IDevID, factory station, or the device's current certificate), or an API token");
    }

    private EnrollmentCredential fromHeader(String header) {
        Instant now = s.clock().instant();
        String basic = AuthHeader.value(header, "Basic");
        if (basic != null) {
            String decoded;
            try {
                decoded = new String(Base64.getDecoder().decode(basic), StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                throw unauthenticated("the Basic credentials are not base64 of DEVICE-ID:SECRET");
            }
            int colon = decoded.indexOf(':');
            if (colon < 1) {
                throw unauthenticated("the Basic credentials must be DEVICE-ID:SECRET (the device id, a colon, the enrollment secret)");
            }
            return secret(decoded.substring(0, colon), decoded.substring(colon + 1), now);
        }
        String value = AuthHeader.value(header, "Bearer");
        if (value != null) {
            if (TokenSecrets.parse(TokenSecrets.ENROLLMENT, value) != null) {
                return secret(null, value, now);
            }
            return token(auth.bearer(value).orElseThrow(Credentials::invalid));
        }
        throw unauthenticated("the Authorization header must be Basic (device id and enrollment secret) or Bearer (a secret or API token)");
    }

    /** A one-time enrollment secret presented inside a request (SCEP's challengePassword) for this device; 401 problem otherwise. */
    EnrollmentCredential enrollmentSecret(String deviceId, String text) {
        if (deviceId == null || text == null) {
            throw invalid();
        }
        return secret(deviceId, text, s.clock().instant());
    }

    private EnrollmentCredential secret(String user, String text, Instant now) {
        TokenSecrets.Presented p = TokenSecrets.parse(TokenSecrets.ENROLLMENT, text);
        Optional<EnrollmentSecret> stored = p == null ? Optional.empty() : s.credentials().enrollmentSecret(p.id());
        if (stored.isEmpty() || !TokenSecrets.matches(p, stored.get().secretHash()) || (user != null && !user.equals(stored.get().deviceId()))) {
            throw invalid();
        }
        EnrollmentSecret e = stored.get();
        if (!e.usableAt(now)) {
            throw new HttpProblem(401, "secret-used", "Enrollment secret used up",
                    "this enrollment secret was already used or has expired; ask the operator for a new one (fleetpki device secret "
                            + e.deviceId() + ")", CHALLENGE);
        }
        return new EnrollmentCredential.Secret(e);
    }

    /** An API token or operator certificate: admin is an operator, issuer and factory enroll within their scope, other roles get 403. */
    private static EnrollmentCredential token(ApiToken t) {
        ApiAuth.authorize(t, Role.ISSUER, Role.FACTORY); // 403 for other roles
        Actor actor = ApiAuth.actor(t);
        return t.role() == Role.ADMIN ? new EnrollmentCredential.Operator(actor) : new EnrollmentCredential.ApiCaller(actor, t.role(), t.profiles());
    }

    /**
     * The credential a certificate that signed a request stands for (SCEP's signer certificate,
     * whose key the message's signature proves): a factory station's, an operator's, the device's
     * current certificate, or a manufacturer IDevID; 401 problem otherwise. The chain is the
     * signer certificate first, then any intermediates the message carried (CMP's extraCerts).
     */
    EnrollmentCredential signerCertificate(X509Certificate... chain) {
        return fromCertificate(chain);
    }

    private EnrollmentCredential fromCertificate(X509Certificate[] chain) {
        X509Certificate leaf = chain[0];
        Instant now = s.clock().instant();
        String fp = Fingerprints.of(leaf);
        Optional<Station> station = s.credentials().stationByCertificate(fp);
        if (station.isPresent()) {
            if (!station.get().active() || !validAt(leaf, now)) {
                throw unauthenticated("factory station '" + station.get().name() + "' is " + (station.get().active() ? "presenting a certificate "
                        + "outside its validity" : "disabled (fleetpki station enable " + station.get().name() + ")"));
            }
            return new EnrollmentCredential.FactoryStation(station.get());
        }
        Optional<ApiToken> operator = auth.operator(leaf);
        if (operator.isPresent()) {
            return token(operator.get());
        }
        String serial = leaf.getSerialNumber().toString(16);
        Optional<StoredCertificate> mine = s.certificates().certificate(serial).filter(c -> Arrays.equals(c.issued().der(), der(leaf)));
        if (mine.isPresent()) {
            StoredCertificate c = mine.get();
            String status = c.status(now);
            if (!"valid".equals(status) || c.issued().deviceId() == null) {
                throw new HttpProblem(401, "certificate-" + status, "Certificate not usable",
                        "the client certificate (serial " + serial + ") is " + status + "; a " + status + " certificate cannot renew. "
                                + "Enroll again with a bootstrap credential (enrollment secret or manufacturer certificate)", CHALLENGE);
            }
            if (!clientAuth(leaf)) {
                throw unauthenticated("the client certificate (serial " + serial + ") is a " + c.issued().profile() + " certificate, whose "
                        + "extended key usage does not allow client authentication; only a certificate fit for TLS client authentication "
                        + "renews (RFC 5280 4.2.1.12)");
            }
            return new EnrollmentCredential.Renewal(c);
        }
        for (ManufacturerCa m : s.credentials().manufacturers()) {
            if (chainsTo(chain, m, now)) {
                String device = deviceId(leaf, m);
                if (device == null) {
                    throw unauthenticated("the manufacturer certificate's subject has no " + (m.mapBy() == ManufacturerCa.MapBy.CN ? "CN" : "serialNumber")
                            + ", which manufacturer CA '" + m.name() + "' maps to the device id");
                }
                String unfit = unfitIdevid(leaf);
                if (unfit != null) {
                    throw unauthenticated("the manufacturer certificate for '" + device + "' " + unfit + "; an IDevID must be an end-entity "
                            + "certificate fit for TLS client authentication (IEEE 802.1AR, RFC 5280 4.2.1.9 and 4.2.1.12)");
                }
                return new EnrollmentCredential.Manufacturer(m, device);
            }
        }
        throw unauthenticated("the client certificate (subject " + leaf.getSubjectX500Principal().getName() + ") is not a factory station's, "
                + "an operator's, a current certificate from this CA, or from a trusted manufacturer CA (fleetpki trust list)");
    }

    /** Why a manufacturer leaf cannot be an IDevID, or null: a CA certificate, a key usage without digitalSignature, an EKU without clientAuth. */
    static String unfitIdevid(X509Certificate leaf) {
        if (leaf.getBasicConstraints() >= 0) {
            return "is a CA certificate (basicConstraints CA:TRUE)";
        }
        boolean[] ku = leaf.getKeyUsage();
        if (ku != null && !ku[0]) {
            return "has a key usage without digitalSignature";
        }
        if (!clientAuth(leaf)) {
            return "has an extended key usage without client authentication";
        }
        return null;
    }

    /** RFC 5280 4.2.1.12: no EKU extension, or one that lists clientAuth or anyExtendedKeyUsage. */
    static boolean clientAuth(X509Certificate c) {
        try {
            List<String> eku = c.getExtendedKeyUsage();
            return eku == null || eku.contains("1.3.6.1.5.5.7.3.2") || eku.contains("2.5.29.37.0");
        } catch (CertificateParsingException e) {
            return false;
        }
    }

    /** RFC 5280 path validation from the leaf to this manufacturer CA (no revocation: IDevIDs rarely have any). */
    private static boolean chainsTo(X509Certificate[] chain, ManufacturerCa m, Instant now) {
        try {
            List<X509Certificate> path = Arrays.stream(chain).filter(c -> !c.equals(m.certificate())).toList();
            PKIXParameters params = new PKIXParameters(Set.of(new TrustAnchor(m.certificate(), null)));
            params.setRevocationEnabled(false);
            params.setDate(Date.from(now));
            CertPathValidator.getInstance("PKIX").validate(CertificateFactory.getInstance("X.509").generateCertPath(path), params);
            return true;
        } catch (GeneralSecurityException e) {
            return false;
        }
    }

    private static String deviceId(X509Certificate leaf, ManufacturerCa m) {
        X500Name subject = X500Name.getInstance(leaf.getSubjectX500Principal().getEncoded());
        RDN[] rdns = subject.getRDNs(m.mapBy() == ManufacturerCa.MapBy.CN ? BCStyle.CN : BCStyle.SERIALNUMBER);
        return rdns.length == 1 ? IETFUtils.valueToString(rdns[0].getFirst().getValue()) : null;
    }

    private static boolean validAt(X509Certificate c, Instant now) {
        return !now.isBefore(c.getNotBefore().toInstant()) && !now.isAfter(c.getNotAfter().toInstant());
    }

    private static byte[] der(X509Certificate c) {
        try {
            return c.getEncoded();
        } catch (CertificateEncodingException e) {
            return new byte[0];
        }
    }

    static HttpProblem unauthenticated(String detail) {
        return new HttpProblem(401, "unauthenticated", "Authentication required", detail, CHALLENGE);
    }

    private static HttpProblem invalid() {
        return new HttpProblem(401, "invalid-credential", "Invalid credential",
                "the enrollment secret or token is unknown, for another device, revoked or expired; ask the operator for a new one", CHALLENGE);
    }

}
