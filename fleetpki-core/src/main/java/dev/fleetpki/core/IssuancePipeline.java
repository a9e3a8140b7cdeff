package dev.fleetpki.core;

import dev.fleetpki.core.config.FleetConfig;
import dev.fleetpki.kms.Crypto;
import java.io.IOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;
import javax.security.auth.x500.X500Principal;
import org.bouncycastle.asn1.ASN1Encoding;
import org.bouncycastle.asn1.ASN1OctetString;
import org.bouncycastle.asn1.DERBitString;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.AlgorithmIdentifier;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.TBSCertificate;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.ContentVerifier;
import org.bouncycastle.operator.ContentVerifierProvider;
import org.bouncycastle.operator.OperatorCreationException;

/**
 * The one issuance use case every adapter calls (REST, EST, SCEP, CMP, CLI, factory batches).
 * Modelled on Boulder's {@code IssueCertificate}:
 * <ol>
 * <li>authorize: profile allowed, bare keys only for factory stations;</li>
 * <li>check the device (registered, active) and the names (CN or URI SAN = device id);</li>
 * <li>check key policy and that the certificate would not outlive its issuer;</li>
 * <li>take a random serial the store has already reserved;</li>
 * <li>build the TBS from the profile and lint it as a certificate carrying a placeholder signature
 *     of the longest size the CA's algorithm produces ({@link LintSigner});</li>
 * <li>sign those very TBS bytes with the CA key and verify the signature;</li>
 * <li>commit the certificate and its audit event in one durable transaction, then return it.</li>
 * </ol>
 * A refusal at any step is audited and nothing else is stored.
 */
public final class IssuancePipeline {
    private final FleetConfig config;
    private final CaDirectory cas;
    private final IssuanceLedger ledger;
    private final Clock clock;
    private final CertificateTemplate.Urls urls;
    private final IssuanceObserver observer;
    /** The hosts of the URLs this CA publishes (CRL, OCSP, CA issuers): names of its own services, never issued to a server. */
    private final Set<String> urlHosts;
    /** Signature verifiers for the CAs' own keys, made once (building one converts the key). */
    private final Map<String, ContentVerifierProvider> verifiers = new ConcurrentHashMap<>();
    /** Each CA certificate's station policy, read once (CAs are few and long-lived; empty: not a station CA). */
    private static final Map<java.security.cert.X509Certificate, java.util.Optional<StationPolicy>> STATION_POLICIES = new ConcurrentHashMap<>();
    /** Certificates counted against each station CA's quota (by CA name and certificate serial), shared by the observed copies. */
    private final Map<String, AtomicLong> quotaCounts;

    public IssuancePipeline(FleetConfig config, CaDirectory cas, IssuanceLedger ledger, Clock clock) {
        this.config = config;
        this.cas = cas;
        this.ledger = ledger;
        this.clock = clock;
        this.urls = CertificateTemplate.Urls.of(config);
        this.urlHosts = urlHosts(config);
        this.observer = IssuanceObserver.NONE;
        this.quotaCounts = new ConcurrentHashMap<>();
    }

    private IssuancePipeline(IssuancePipeline p, IssuanceObserver observer) {
        this.config = p.config;
        this.cas = p.cas;
        this.ledger = p.ledger;
        this.clock = p.clock;
        this.urls = p.urls;
        this.urlHosts = p.urlHosts;
        this.observer = observer;
        this.quotaCounts = p.quotaCounts;
    }

    private static Set<String> urlHosts(FleetConfig config) {
        Set<String> hosts = new HashSet<>();
        for (String url : Arrays.asList(config.crlUrl(), config.ocspUrl(), config.caIssuersUrl())) {
            if (url != null) {
                try {
                    String host = URI.create(url.replace("{ca}", "ca").replace("{shard}", "0")).getHost();
                    if (host != null) {
                        hosts.add(host.toLowerCase(Locale.ROOT));
                    }
                } catch (IllegalArgumentException e) {
                    // the config loader reported it
                }
            }
        }
        return Set.copyOf(hosts);
    }

    /** The same pipeline, telling {@code observer} of every issuance and refusal. */
    public IssuancePipeline observedBy(IssuanceObserver observer) {
        return new IssuancePipeline(this, observer);
    }

    public IssuedCertificate issue(IssuanceRequest request, Authorization auth) {
        long t0 = System.nanoTime();
        try {
            IssuedCertificate c = issueChecked(request, auth);
            observer.issued(c, request.protocol(), System.nanoTime() - t0);
            return c;
        } catch (PkiException e) {
            observer.refused(e.kind(), String.valueOf(request.profile()), request.protocol());
            if (e.kind() == ErrorKind.UNAVAILABLE) {
                throw e; // not a refusal: the store did not answer, so there is nothing to audit it in (the log has it)
            }
            ledger.audit(AuditEvent.refusal(clock.instant(), auth.actor(), target(request), e, request.profile(), request.protocol(), null));
            throw e;
        }
    }

    private static String target(IssuanceRequest r) {
        return r.deviceId() != null ? "device:" + r.deviceId() : r.signer() != null ? "signer:" + r.signer() : "code:" + r.registrationCode();
    }

    private IssuedCertificate issueChecked(IssuanceRequest req, Authorization auth) {
        Profile profile = config.profile(req.profile()).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND,
                "no profile named '" + req.profile() + "'; profiles: " + String.join(", ", new TreeSet<>(config.profiles().keySet()))));
        // the authorizer decided for this device and profile; check the request is that one (Boulder's CA re-checks the RA)
        if (!profile.name().equals(auth.profile())) {
            throw new PkiException(ErrorKind.NOT_AUTHORIZED, auth.actor() + " is authorized for profile '" + auth.profile() + "', not '"
                    + profile.name() + "'");
        }
        if (!Objects.equals(auth.deviceId(), req.deviceId())) {
            throw new PkiException(ErrorKind.NOT_AUTHORIZED, "this authorization is for device '" + auth.deviceId() + "', not '" + req.deviceId() + "'");
        }
        if (!Objects.equals(auth.signer(), req.signer())) {
            throw new PkiException(ErrorKind.NOT_AUTHORIZED, "this authorization is for signer '" + auth.signer() + "', not '" + req.signer() + "'");
        }
        if (!req.proofOfPossession() && !auth.allowsBareKey()) {
            throw new PkiException(ErrorKind.NOT_AUTHORIZED, "issuing from a bare public key (no proof of possession) is allowed "
                    + "only to a factory station; " + auth.actor() + " has role " + auth.role().configName());
        }
        if (profile.kind() == ProfileKind.SUB_CA || profile.kind() == ProfileKind.OCSP_SIGNING || profile.kind() == ProfileKind.SCEP_RA) {
            throw new PkiException(ErrorKind.NOT_AUTHORIZED, "profile '" + profile.name() + "' makes CA, OCSP or SCEP RA certificates; "
                    + "those come from the ceremony ('fleetpki init', 'fleetpki ca ...'), not from a device request");
        }
        CertificateAuthority ca = cas.get(issuerName(req, profile));
        StationPolicy station = STATION_POLICIES.computeIfAbsent(ca.certificate(), StationPolicy::of).orElse(null);
        if (station != null && profile.kind() != ProfileKind.DEVICE && profile.kind() != ProfileKind.DEVICE_PEER) {
            throw new PkiException(ErrorKind.POLICY_VIOLATION, "CA '" + ca.name() + "' is an offline station's CA: it signs device certificates "
                    + "only, not profile '" + profile.name() + "' (" + profile.kind().configName() + ")");
        }
        Names names = names(req, profile, auth, station);
        KeyPolicy.check(req.publicKey(), profile.keyAlgorithms());

        if (ca.key().publicKey().equals(req.publicKey()) || Arrays.equals(ca.key().publicKey().getEncoded(), req.publicKey().getEncoded())) {
            throw new PkiException(ErrorKind.KEY_POLICY, "the request carries the CA's own public key; a device must have its own key");
        }
        Instant now = clock.instant().truncatedTo(ChronoUnit.MILLIS); // as the store keeps times
        Instant notBefore = now.minus(profile.backdate());
        Instant caNotBefore = ca.certificate().getNotBefore().toInstant();
        if (notBefore.isBefore(caNotBefore)) {
            notBefore = caNotBefore;
        }
        Instant notAfter = now.plus(profile.validity());
        Instant caNotAfter = ca.certificate().getNotAfter().toInstant();
        if (notAfter.isAfter(caNotAfter)) {
            throw new PkiException(ErrorKind.POLICY_VIOLATION, "a " + Durations.format(profile.validity()) + " certificate from profile '"
                    + profile.name() + "' would end " + notAfter + ", after its issuer '" + ca.name() + "' ends " + caNotAfter
                    + "; shorten the profile's validity or renew the CA");
        }

        AtomicLong quotaUsed = station == null ? null : takeQuota(ca, station);
        try {
            return sign(req, auth, profile, ca, names, notBefore, notAfter, now);
        } catch (RuntimeException e) {
            if (quotaUsed != null) {
                quotaUsed.decrementAndGet(); // nothing was stored: the certificate does not count
            }
            throw e;
        }
    }

    /**
     * One of the station CA's certificates, counted before signing against the quota its
     * certificate carries (the count starts from what the store holds; refused once used up).
     * Strict within this process; the central store checks the count again when it syncs.
     */
    private AtomicLong takeQuota(CertificateAuthority ca, StationPolicy station) {
        if (clock.instant().isAfter(station.issueUntil())) {
            throw new PkiException(ErrorKind.POLICY_VIOLATION, "station CA '" + ca.name() + "' signed until " + station.issueUntil()
                    + " (its production run); have the root certify a new station CA ('fleetpki station certify') and sync this one");
        }
        AtomicLong used = quotaCounts.computeIfAbsent(ca.name() + "/" + ca.certificate().getSerialNumber(), k -> new AtomicLong(ledger.issuedBy(ca.name())));
        if (used.incrementAndGet() > station.quota()) {
            used.decrementAndGet();
            throw new PkiException(ErrorKind.POLICY_VIOLATION, "station CA '" + ca.name() + "' has used its quota of " + station.quota()
                    + " certificates; have the root certify a new station CA ('fleetpki station certify') and sync this one");
        }
        return used;
    }

    private IssuedCertificate sign(IssuanceRequest req, Authorization auth, Profile profile, CertificateAuthority ca, Names names,
                                   Instant notBefore, Instant notAfter, Instant now) {
        BigInteger serial = new BigInteger(ledger.reserveSerial(), 16);
        Failpoints.hit("issue.reserved");
        X509v3CertificateBuilder tbs = CertificateTemplate.build(profile.kind(), profile.pathLength(), ca.certificate(), ca.name(),
                names.subject(), names.sans(), req.publicKey(), serial, notBefore, notAfter, urls, null);

        X509CertificateHolder linted = tbs.build(new LintSigner(ca.key()));
        Lint.check(linted, encoded(linted).length, profile, ca.certificate());

        // The CA signs exactly the TBS bytes that were linted: no second build that could differ.
        Signed signed = signLinted(linted, ca);
        if (!verifies(signed, ca)) {
            throw new PkiException(ErrorKind.INTERNAL, "the CA key '" + ca.key().ref() + "' produced a signature that does not verify");
        }
        Failpoints.hit("issue.signed");
        String serialHex = SerialNumbers.hex(serial);
        // Time in a certificate has whole seconds (X509v3CertificateBuilder drops the fraction), as the store keeps it
        IssuedCertificate issued = new IssuedCertificate(serialHex, ca.name(), req.deviceId(), profile.name(), signed.certificateDer(),
                notBefore.truncatedTo(ChronoUnit.SECONDS), notAfter.truncatedTo(ChronoUnit.SECONDS),
                rfc2253(names.subject()), req.proofOfPossession(), null, auth.actor(), now, req.protocol());
        Map<String, String> detail = new LinkedHashMap<>();
        detail.put("serial", serialHex);
        detail.put("ca", ca.name());
        detail.put("profile", profile.name());
        detail.put("protocol", req.protocol());
        detail.put("subject", issued.subject());
        detail.put("notAfter", notAfter.toString());
        detail.put("proofOfPossession", String.valueOf(req.proofOfPossession()));
        detail.put("signingKey", withoutQuery(ca.key().ref().uri()));
        if (req.signer() != null) {
            detail.put("signer", req.signer());
        }
        try {
            ledger.commitIssued(issued, new AuditEvent(now, auth.actor(), AuditAction.CERTIFICATE_ISSUE,
                    req.deviceId() != null ? "device:" + req.deviceId() : req.signer() != null ? "signer:" + req.signer() : "serial:" + serialHex,
                    detail), auth.consumes());
        } catch (PkiException e) {
            throw new PkiException(e.kind(), e.detail() + " (serial " + serialHex + " was signed but not stored, and never returned)", e);
        }
        Failpoints.hit("issue.committed");
        return issued;
    }

    private String issuerName(IssuanceRequest req, Profile profile) {
        if (req.caName() != null) {
            return cas.current(req.caName());
        }
        return issuerFor(profile);
    }

    /**
     * The CA that signs for this profile unless a request names one (the profile's issuer, else the
     * default issuing CA), or its successor once a CA rollover switched issuance to it.
     */
    public String issuerFor(Profile profile) {
        return cas.current(config.issuerOf(profile));
    }

    private record Names(X500Name subject, List<GeneralName> sans) {}

    private Names names(IssuanceRequest req, Profile profile, Authorization auth, StationPolicy station) {
        if (profile.kind() == ProfileKind.CLOUD_VERIFICATION) {
            String code = req.registrationCode();
            if (code == null || code.isBlank()) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "a cloud-verification certificate needs the registration code "
                        + "the cloud gave you (Azure DPS verification code, AWS IoT registration code)");
            }
            if (req.requestedCn() != null && !req.requestedCn().equals(code)) {
                throw new PkiException(ErrorKind.NAME_MISMATCH, "the CSR's CN '" + req.requestedCn() + "' is not the registration code '" + code + "'");
            }
            return new Names(new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.CN, code).build(), List.of());
        }
        if (profile.kind() == ProfileKind.CODE_SIGNING || req.signer() != null) {
            return signerNames(req, profile);
        }
        String id = req.deviceId();
        if (id == null) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "profile '" + profile.name() + "' issues to a device; name it with --device ID");
        }
        Device.checkId(id);
        Device d = ledger.device(id).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND,
                "device '" + id + "' is not registered; register it first: fleetpki device add " + id));
        if (d.status() != Device.Status.ACTIVE) {
            throw new PkiException(ErrorKind.DEVICE_NOT_ACTIVE, "device '" + id + "' is " + d.status().name().toLowerCase(Locale.ROOT)
                    + "; it may not receive certificates");
        }
        if (!auth.operator() && Device.SERVER_MODEL.equals(d.model())) {
            throw new PkiException(ErrorKind.NOT_AUTHORIZED, "device '" + id + "' is the TLS identity of this CA's own server; only an operator issues its certificates");
        }
        if (!auth.coversModel(d.model())) {
            throw new PkiException(ErrorKind.NOT_AUTHORIZED, auth.actor() + " enrolls devices of fleet '" + auth.fleet() + "' only; device '" + id
                    + "' is model '" + d.model() + "'");
        }
        if (station != null && !station.fleet().equals(d.model())) {
            throw new PkiException(ErrorKind.POLICY_VIOLATION, "this station's CA signs devices of model '" + station.fleet() + "' only; device '"
                    + id + "' is model '" + d.model() + "'");
        }
        if (req.requestedCn() != null && !req.requestedCn().equals(id)) {
            throw new PkiException(ErrorKind.NAME_MISMATCH, "the CSR's CN '" + req.requestedCn() + "' is not the device id '" + id
                    + "'; make the CSR with -subj \"/CN=" + id + "\"");
        }
        if (auth.renewing() != null) {
            return renewedNames(req, auth.renewing(), profile);
        }
        List<GeneralName> sans = new ArrayList<>();
        X500NameBuilder subject = new X500NameBuilder(BCStyle.INSTANCE);
        if (profile.organization() != null) {
            subject.addRDN(BCStyle.O, profile.organization());
        }
        if (station != null) {
            subject.addRDN(BCStyle.OU, station.fleet()); // inside the station CA's name constraints (StationPolicy.subtree)
        }
        if (profile.subject() == Profile.SubjectSource.URI_SAN) {
            String uri = profile.uriFor(id);
            for (GeneralName g : req.requestedSans()) {
                if (g.getTagNo() != GeneralName.uniformResourceIdentifier || !g.getName().toString().equals(uri)) {
                    throw new PkiException(ErrorKind.NAME_MISMATCH, "the CSR asks for subjectAltName " + describe(g)
                            + "; profile '" + profile.name() + "' allows only the URI " + uri);
                }
            }
            sans.add(new GeneralName(GeneralName.uniformResourceIdentifier, uri));
            if (req.requestedCn() != null) {
                subject.addRDN(BCStyle.CN, id);
            }
            return new Names(subject.build(), sans);
        }
        subject.addRDN(BCStyle.CN, id);
        if (profile.kind() == ProfileKind.SERVER_TLS) {
            if (looksLikeDnsName(id)) {
                sans.add(serverDnsName(id, id, profile, auth));
            }
            for (GeneralName g : req.requestedSans()) {
                GeneralName name = switch (g.getTagNo()) {
                    case GeneralName.dNSName -> serverDnsName(g.getName().toString(), id, profile, auth);
                    case GeneralName.iPAddress -> serverIp(g, profile, auth);
                    default -> throw new PkiException(ErrorKind.NAME_MISMATCH, "a server certificate carries DNS and IP names only; the CSR asks for "
                            + describe(g));
                };
                if (!sans.contains(name)) {
                    sans.add(name);
                }
            }
            if (sans.isEmpty()) {
                throw new PkiException(ErrorKind.NAME_MISMATCH, "a server-TLS certificate needs a DNS or IP subjectAltName; "
                        + "add -addext \"subjectAltName=DNS:host.example\" to the CSR");
            }
        } else {
            if (profile.kind() == ProfileKind.DEVICE_PEER) {
                // a peer verifies this device as a TLS server, by a DNS subjectAltName: Go, browsers and OkHttp ignore the CN
                // (RFC 9525 6.3), so the device id is the certificate's DNS name too
                if (!HOST_NAME.matcher(id).matches()) {
                    throw new PkiException(ErrorKind.NAME_MISMATCH, "a device-peer certificate names its device as a DNS name, for peers "
                            + "that verify it as a TLS server; device id '" + id + "' is not one (letters, digits and hyphens, labels "
                            + "separated by dots); use a uri-san profile for such ids");
                }
                sans.add(new GeneralName(GeneralName.dNSName, id.toLowerCase(Locale.ROOT)));
            }
            for (GeneralName g : req.requestedSans()) {
                if (!sans.contains(g)) {
                    throw new PkiException(ErrorKind.NAME_MISMATCH, "the CSR asks for subjectAltName " + describe(g) + "; profile '"
                            + profile.name() + (sans.isEmpty() ? "' names the device by its CN only" : "' names the device by its id only (" + describe(sans.getFirst()) + ")"));
                }
            }
        }
        return new Names(subject.build(), sans);
    }

    /**
     * A code-signing certificate names a firmware signer (CN = its name), never a device: a device
     * holding one could sign firmware outside the signer's model binding and its audit trail.
     */
    private static Names signerNames(IssuanceRequest req, Profile profile) {
        if (profile.kind() != ProfileKind.CODE_SIGNING) {
            throw new PkiException(ErrorKind.NOT_AUTHORIZED, "a firmware signer's certificate has a code-signing profile, not '" + profile.name() + "'");
        }
        if (req.signer() == null || req.deviceId() != null) {
            throw new PkiException(ErrorKind.NOT_AUTHORIZED, "code-signing certificates are issued to named firmware signers, not to devices; "
                    + "create one with: fleetpki signer add NAME --key file:signers/NAME.p8 --create --models MODEL (docs/firmware.md)");
        }
        if (!req.requestedSans().isEmpty()) {
            throw new PkiException(ErrorKind.NAME_MISMATCH, "a signer's certificate names the signer by its CN only");
        }
        X500NameBuilder subject = new X500NameBuilder(BCStyle.INSTANCE);
        if (profile.organization() != null) {
            subject.addRDN(BCStyle.O, profile.organization());
        }
        return new Names(subject.addRDN(BCStyle.CN, req.signer()).build(), List.of());
    }

    /**
     * A DNS name for a server certificate: under the profile's {@code dnsSuffixes} (an operator may
     * name any host when none are configured; nobody else may), and never a name of this CA's own
     * services (its URLs' hosts, the host names of its own servers) unless the certificate is for
     * that very server.
     */
    private GeneralName serverDnsName(String requested, String deviceId, Profile profile, Authorization auth) {
        String dns = requested.toLowerCase(Locale.ROOT);
        if (!looksLikeDnsName(dns.startsWith("*.") ? dns.substring(2) : dns)) {
            throw new PkiException(ErrorKind.NAME_MISMATCH, "'" + dns + "' is not a DNS name");
        }
        if (profile.dnsSuffixes().isEmpty() && !auth.operator()) {
            throw new PkiException(ErrorKind.NOT_AUTHORIZED, "profile '" + profile.name() + "' has no dnsSuffixes, so only an operator may "
                    + "obtain DNS names with it; list the domains its servers use under profiles." + profile.name() + ".dnsSuffixes");
        }
        if (!profile.dnsSuffixes().isEmpty() && profile.dnsSuffixes().stream().noneMatch(s -> dns.equals(s) || dns.endsWith("." + s))) {
            throw new PkiException(ErrorKind.NAME_MISMATCH, "DNS name '" + dns + "' is outside profile '" + profile.name()
                    + "' suffixes " + profile.dnsSuffixes());
        }
        if (!dns.equals(deviceId.toLowerCase(Locale.ROOT))) {
            boolean own = urlHosts.contains(dns) || ledger.device(dns).map(d -> Device.SERVER_MODEL.equals(d.model())).orElse(false);
            if (own) {
                throw new PkiException(ErrorKind.NOT_AUTHORIZED, "'" + dns + "' names one of this CA's own services; it is issued only to "
                        + "that server's own identity");
            }
        }
        return new GeneralName(GeneralName.dNSName, dns);
    }

    /** An IP address for a server certificate: inside the profile's {@code ipRanges} (only an operator may name one when none are configured). */
    private static GeneralName serverIp(GeneralName g, Profile profile, Authorization auth) {
        byte[] address = ASN1OctetString.getInstance(g.getName()).getOctets();
        if (profile.ipRanges().isEmpty() && !auth.operator()) {
            throw new PkiException(ErrorKind.NOT_AUTHORIZED, "profile '" + profile.name() + "' has no ipRanges, so only an operator may "
                    + "obtain IP addresses with it; list the networks its servers use under profiles." + profile.name() + ".ipRanges");
        }
        if (!profile.ipRanges().isEmpty() && profile.ipRanges().stream().noneMatch(r -> r.contains(address))) {
            throw new PkiException(ErrorKind.NAME_MISMATCH, "IP address " + ip(address) + " is outside profile '" + profile.name()
                    + "' ranges " + profile.ipRanges());
        }
        return g;
    }

    private static String ip(byte[] address) {
        try {
            return InetAddress.getByAddress(address).getHostAddress();
        } catch (UnknownHostException e) {
            return "(" + address.length + " bytes)";
        }
    }

    /**
     * A renewal's names are the renewed certificate's (RFC 5280 subject and subjectAltName carried
     * over), not the request's: a CSR may repeat them but not add any.
     */
    private static Names renewedNames(IssuanceRequest req, IssuedCertificate current, Profile profile) {
        if (!profile.renewWithSameKey() && Arrays.equals(current.certificate().getPublicKey().getEncoded(), req.publicKey().getEncoded())) {
            throw new PkiException(ErrorKind.KEY_POLICY, "the CSR carries the current certificate's key; profile '" + profile.name()
                    + "' renews only with a new key (rekey): generate a new key pair on the device (or set renewWithSameKey: true)");
        }
        X509CertificateHolder holder;
        try {
            holder = new X509CertificateHolder(current.der());
        } catch (IOException e) {
            throw new PkiException(ErrorKind.INTERNAL, "cannot read certificate " + current.serialHex() + " being renewed", e);
        }
        GeneralNames had = GeneralNames.fromExtensions(holder.getExtensions(),
                Extension.subjectAlternativeName);
        List<GeneralName> sans = had == null ? List.of() : List.of(had.getNames());
        for (GeneralName g : req.requestedSans()) {
            if (!sans.contains(g)) {
                throw new PkiException(ErrorKind.NAME_MISMATCH, "a renewal keeps the names of certificate " + current.serialHex()
                        + "; the CSR asks for " + describe(g) + ", which it does not carry");
            }
        }
        return new Names(holder.getSubject(), sans);
    }

    private static String describe(GeneralName g) {
        String kind = switch (g.getTagNo()) {
            case GeneralName.dNSName -> "DNS:";
            case GeneralName.uniformResourceIdentifier -> "URI:";
            case GeneralName.iPAddress -> "IP:";
            case GeneralName.rfc822Name -> "email:";
            default -> "name type " + g.getTagNo() + ":";
        };
        return kind + (g.getTagNo() == GeneralName.iPAddress ? "(address)" : g.getName().toString());
    }

    private static final Pattern DNS =
            Pattern.compile("(?i)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?");

    /** A host name of one or more labels (RFC 1123 2.1): what a device-peer certificate's DNS name may be. */
    private static final Pattern HOST_NAME =
            Pattern.compile("(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*");

    private static boolean looksLikeDnsName(String s) {
        // single-label names are refused, except localhost (RFC 6761), for a server used on one machine
        return s.equalsIgnoreCase("localhost") || s.length() <= 253 && s.contains(".") && DNS.matcher(s).matches();
    }

    /** A key reference without its query part (module path, PIN source), for the audit log. */
    private static String withoutQuery(String uri) {
        int q = uri.indexOf('?');
        return q < 0 ? uri : uri.substring(0, q);
    }

    private static ContentVerifierProvider verifier(CertificateAuthority ca) {
        return Crypto.verifier(ca.key().publicKey());
    }

    static X509Certificate toX509(X509CertificateHolder h) {
        try {
            return new JcaX509CertificateConverter().getCertificate(h);
        } catch (CertificateException e) {
            throw new PkiException(ErrorKind.INTERNAL, "cannot decode the certificate just built", e);
        }
    }

    private static byte[] encoded(X509CertificateHolder h) {
        try {
            return h.getEncoded();
        } catch (IOException e) {
            throw new PkiException(ErrorKind.INTERNAL, "cannot encode certificate", e);
        }
    }

    /** The TBS bytes that were linted, the CA's signature over them, and the certificate they make. */
    private record Signed(byte[] tbsDer, AlgorithmIdentifier algorithm, byte[] signature, byte[] certificateDer) {}

    private static Signed signLinted(X509CertificateHolder linted, CertificateAuthority ca) {
        TBSCertificate tbs = linted.toASN1Structure().getTBSCertificate();
        ContentSigner signer = ca.key().contentSigner();
        if (!signer.getAlgorithmIdentifier().equals(tbs.getSignature())) {
            throw new PkiException(ErrorKind.INTERNAL, "the CA signer's algorithm differs from the linted certificate's; nothing was issued");
        }
        try {
            byte[] tbsDer = tbs.getEncoded(ASN1Encoding.DER);
            try (var out = signer.getOutputStream()) {
                out.write(tbsDer);
            }
            byte[] signature = signer.getSignature();
            // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }, assembled from
            // the very TBS bytes signed rather than re-encoded from the structure
            byte[] certificate = Der.tlv(Der.SEQUENCE, tbsDer, signer.getAlgorithmIdentifier().getEncoded(ASN1Encoding.DER),
                    new DERBitString(signature).getEncoded(ASN1Encoding.DER));
            return new Signed(tbsDer, signer.getAlgorithmIdentifier(), signature, certificate);
        } catch (IOException e) {
            throw new PkiException(ErrorKind.INTERNAL, "cannot sign the certificate", e);
        }
    }

    private boolean verifies(Signed signed, CertificateAuthority ca) {
        try {
            ContentVerifier v = verifiers.computeIfAbsent(ca.name(), n -> verifier(ca)).get(signed.algorithm());
            try (var out = v.getOutputStream()) {
                out.write(signed.tbsDer());
            }
            return v.verify(signed.signature());
        } catch (OperatorCreationException | IOException e) {
            throw new PkiException(ErrorKind.INTERNAL, "cannot verify the new certificate's signature", e);
        }
    }

    /** The subject as the JDK renders it (RFC 2253), which is how the store and the CLI show subjects. */
    private static String rfc2253(X500Name name) {
        try {
            return new X500Principal(name.getEncoded(ASN1Encoding.DER)).getName();
        } catch (IOException e) {
            throw new PkiException(ErrorKind.INTERNAL, "cannot encode the subject", e);
        }
    }
}
