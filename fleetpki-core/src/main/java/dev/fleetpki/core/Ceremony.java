package dev.fleetpki.core;

import dev.fleetpki.core.config.CaRole;
import dev.fleetpki.core.config.CaSpec;
import dev.fleetpki.core.config.FleetConfig;
import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.KeyManager;
import dev.fleetpki.kms.KeyRef;
import dev.fleetpki.kms.KeyStoreFailure;
import dev.fleetpki.kms.SecretSource;
import dev.fleetpki.kms.SigningKey;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;

/**
 * The CA ceremony: a self-signed root, issuing CAs signed by it (pathLen 0, optional name
 * constraints), an OCSP signer and optionally a code-signing CA. The root may stay offline:
 * {@link #init} with {@code rootOnly}, then {@link #subCaRequest} on the server,
 * {@link #signSubCa} on the offline machine and {@link #importSubCa} on the server.
 *
 * <p>All keys are created first; the CA records and their audit events are then stored in one
 * transaction. If anything fails, the file keys this run created are removed again.
 */
public final class Ceremony {
    private final FleetConfig config;
    private final KeyManager keys;
    private final CaRegistry registry;
    private final Clock clock;
    private final Actor actor;
    private final CertificateTemplate.Urls urls;
    private final List<Path> createdFiles = new ArrayList<>();

    public Ceremony(FleetConfig config, KeyManager keys, CaRegistry registry, Clock clock, Actor actor) {
        this.config = config;
        this.keys = keys;
        this.registry = registry;
        this.clock = clock;
        this.actor = actor;
        this.urls = CertificateTemplate.Urls.of(config);
    }

    /** Creates the hierarchy (or only the root) and returns the CA records stored. */
    public List<CaRecord> init(boolean rootOnly) {
        if (!registry.cas().isEmpty()) {
            throw new PkiException(ErrorKind.CONFLICT, "this store already holds CAs " + registry.cas().stream().map(CaRecord::name).toList()
                    + "; the ceremony runs once. Use a new folder for a new hierarchy");
        }
        List<CaRecord> records = new ArrayList<>();
        List<AuditEvent> events = new ArrayList<>();
        try {
            CaSpec rootSpec = config.root();
            SigningKey rootKey = create(rootSpec);
            Instant now = clock.instant();
            X509Certificate root = sign(ProfileKind.SUB_CA, null, null, rootKey, rootSpec, rootKey.publicKey(), now);
            records.add(record(rootSpec, root, null, now));
            events.add(event(rootSpec, root, rootKey, now));
            if (!rootOnly) {
                for (CaSpec spec : config.issuing()) {
                    SigningKey k = create(spec);
                    X509Certificate c = sign(ProfileKind.SUB_CA, root, rootSpec.name(), rootKey, spec, k.publicKey(), now);
                    records.add(record(spec, c, rootSpec.name(), now));
                    events.add(event(spec, c, rootKey, now));
                }
                if (config.codeSigning() != null) {
                    CaSpec spec = config.codeSigning();
                    SigningKey k = create(spec);
                    X509Certificate c = sign(ProfileKind.SUB_CA, root, rootSpec.name(), rootKey, spec, k.publicKey(), now);
                    records.add(record(spec, c, rootSpec.name(), now));
                    events.add(event(spec, c, rootKey, now));
                }
                addOcspSigner(records, events, records.get(1), now);
            }
            registry.saveCas(records, events);
            createdFiles.clear();
            return records;
        } catch (RuntimeException e) {
            removeCreatedFiles();
            throw e;
        }
    }

    private void addOcspSigner(List<CaRecord> records, List<AuditEvent> events, CaRecord issuing, Instant now) {
        if (config.ocsp() == null) {
            return;
        }
        CaSpec spec = config.ocsp();
        CaSpec issuingSpec = config.ca(issuing.name()).orElseThrow();
        SigningKey issuingKey = keys.open(issuingSpec.key(), issuingSpec.passphrase());
        SigningKey k = create(spec);
        X509Certificate c = sign(ProfileKind.OCSP_SIGNING, issuing.certificate(), issuing.name(), issuingKey, spec, k.publicKey(), now);
        records.add(record(spec, c, issuing.name(), now));
        events.add(event(spec, c, issuingKey, now));
    }

    /**
     * Certifies a new delegated OCSP signer for an issuing or code-signing CA, as
     * {@code ceremony.ocsp} describes it (algorithm, subject, validity, passphrase): a fresh key
     * named {@code <ocsp>-<ca>-<yyyyMMddHHmmss>}, in {@code keys/} for a file key or on the same
     * PKCS#11 token under that label, certified by the CA (never past the CA's own end). Used for
     * CAs the ceremony gave no signer and to replace a signer before it expires.
     */
    public CaRecord certifyOcspSigner(String caName) {
        CaSpec base = config.ocsp();
        if (base == null) {
            throw new PkiException(ErrorKind.CONFIG, "fleetpki.yaml has no ceremony.ocsp section, so OCSP answers are signed by the CA keys; "
                    + "add one to have delegated OCSP signers");
        }
        return certifyDelegate(caName, storedSubCaSpec(caName), "an OCSP signer", CaRole.OCSP, ProfileKind.OCSP_SIGNING, base.name(), base.subject(),
                base.algorithm(), base.key(), base.passphrase(), base.validity());
    }

    /**
     * Certifies a new SCEP registration authority for an issuing CA: an RSA-2048 key named
     * {@code scep-ra-<ca>-<yyyyMMddHHmmss>} (a file in {@code keys/}, encrypted with the CA's
     * passphrase; or, when the CA's key is on a PKCS#11 token, on that token), certified by the CA
     * with profile kind scep-ra for a year (never past the CA's own end). SCEP clients encrypt to an
     * RSA key, and a CA key only signs; so the RA holds the decryption key, and the CA key stays a
     * signing key (docs/scep.md).
     */
    public CaRecord certifyScepRa(String caName) {
        CaSpec caSpec = storedSubCaSpec(caName);
        if (caSpec.role() != CaRole.ISSUING) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "'" + caName + "' is not an issuing CA; SCEP issues device certificates from an issuing CA");
        }
        return certifyDelegate(caName, caSpec, "a SCEP RA", CaRole.SCEP_RA, ProfileKind.SCEP_RA, "scep-ra", "CN=fleetpki SCEP RA (" + caName + ")",
                KeyAlgorithm.RSA_2048, caSpec.key(), caSpec.passphrase(), ProfileKind.SCEP_RA.defaultValidity());
    }

    /**
     * Certifies a CA-side delegate of {@code caName} (an OCSP signer, a SCEP RA): a fresh key named
     * {@code <prefix>-<ca>-<yyyyMMddHHmmss>}, in {@code keys/} when {@code keyBase} is a file key, else
     * on {@code keyBase}'s token under that label; certified by the CA for {@code validity}, never past
     * the CA's own end. The record and its audit event are stored in one transaction, and the key file
     * is removed again if that fails.
     */
    private CaRecord certifyDelegate(String caName, CaSpec caSpec, String what, CaRole role, ProfileKind kind, String prefix, String subject,
                                     KeyAlgorithm algorithm, KeyRef keyBase, SecretSource passphrase, Duration validity) {
        CaRecord ca = registry.ca(caName).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND, "no CA named '" + caName + "' in the store"));
        Instant now = clock.instant();
        Duration left = Duration.between(now, ca.certificate().getNotAfter().toInstant()).minusMinutes(1);
        if (left.compareTo(Duration.ofHours(1)) < 0) {
            throw new PkiException(ErrorKind.POLICY_VIOLATION, "CA '" + caName + "' ends at " + ca.certificate().getNotAfter().toInstant()
                    + "; too soon to certify " + what + " under it");
        }
        String name = prefix + "-" + caName + "-" + DateTimeFormatter.ofPattern("yyyyMMddHHmmss").withZone(ZoneOffset.UTC).format(now);
        KeyRef key = keyBase.isFile() ? KeyRef.parse("file:keys/" + name + ".p8")
                : KeyRef.parse(keyBase.uri().replaceFirst("object=[^;?]*", "object=" + name));
        CaSpec spec = new CaSpec(name, role, subject, algorithm, key, passphrase, validity.compareTo(left) > 0 ? left : validity,
                List.of(), List.of(), List.of());
        try {
            SigningKey caKey = keys.open(caSpec.key(), caSpec.passphrase());
            SigningKey k = create(spec);
            X509Certificate c = sign(kind, ca.certificate(), caName, caKey, spec, k.publicKey(), now);
            CaRecord rec = record(spec, c, caName, now);
            registry.saveCas(List.of(rec), List.of(event(spec, c, caKey, now)));
            createdFiles.clear();
            return rec;
        } catch (KeyStoreFailure e) {
            removeCreatedFiles();
            throw new PkiException(ErrorKind.CONFIG, "cannot certify " + what + " for CA '" + caName + "': " + e.getMessage(), e);
        } catch (RuntimeException e) {
            removeCreatedFiles();
            throw e;
        }
    }

    /** On the server: creates a sub-CA's key (issuing or code-signing) and returns its PKCS#10 request. */
    public PKCS10CertificationRequest subCaRequest(String name) {
        CaSpec spec = subCaSpec(name);
        if (registry.ca(name).isPresent()) {
            throw new PkiException(ErrorKind.CONFLICT, "CA '" + name + "' already exists in this store");
        }
        SigningKey k;
        try {
            k = keys.open(spec.key(), spec.passphrase());
        } catch (KeyStoreFailure notYet) {
            k = create(spec);
        }
        try {
            return new JcaPKCS10CertificationRequestBuilder(Dn.parse(spec.subject()), k.publicKey()).build(k.contentSigner());
        } catch (RuntimeException e) {
            removeCreatedFiles();
            throw e;
        }
    }

    /** On the offline root machine: signs a sub-CA request with the root key, as the ceremony configures that CA. */
    public X509Certificate signSubCa(byte[] csrDer, String name) {
        return signSubCa(csrDer, name, false);
    }

    /** Two names with the same DER encoding (the RDNs in the same order). */
    static boolean sameName(org.bouncycastle.asn1.x500.X500Name a, org.bouncycastle.asn1.x500.X500Name b) {
        try {
            return Arrays.equals(a.getEncoded(), b.getEncoded());
        } catch (java.io.IOException e) {
            return false;
        }
    }

    /**
     * The root that certifies CAs now: fleetpki.yaml's root, or, once a rollover switched it, its
     * successor (and the successor's, and so on).
     */
    private CaRecord currentRoot(String missing) {
        String name = config.root().name();
        List<Rollover> rollovers = registry.rollovers();
        for (int guard = 0; guard < 64; guard++) {
            String at = name;
            var next = rollovers.stream().filter(r -> r.oldName().equals(at) && r.atLeast(Rollover.Step.SWITCHED)).findFirst();
            if (next.isEmpty()) {
                break;
            }
            name = next.get().newName();
        }
        return registry.ca(name).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND, missing));
    }

    /**
     * On the offline root machine: signs a sub-CA request; with {@code successor}, the request is for
     * the successor of CA {@code name} in a rollover (docs/rollover.md): its own subject, which must
     * differ from every CA's here, with {@code name}'s validity and name constraints.
     */
    public X509Certificate signSubCa(byte[] csrDer, String name, boolean successor) {
        CaSpec configured = subCaSpec(name);
        CaSpec spec = configured;
        if (successor) {
            UntrustedCsr req = UntrustedCsr.parse(csrDer);
            for (CaRecord c : registry.cas()) {
                if (org.bouncycastle.asn1.x500.X500Name.getInstance(c.certificate().getSubjectX500Principal().getEncoded()).equals(req.subject())) {
                    throw new PkiException(ErrorKind.CONFLICT, "the request's subject '" + req.subject() + "' is CA '" + c.name() + "''s; a "
                            + "successor has a subject of its own (the server's rollover plan names it)");
                }
            }
            if (Dn.parse(configured.subject()).equals(req.subject())) {
                throw new PkiException(ErrorKind.CONFLICT, "the request's subject is CA '" + name + "''s own; a successor has a subject of its own");
            }
            // the request's name as written (RFC 2253, as subjects are everywhere here): X500Name's own rendering lists the RDNs the other
            // way round, which reversed the successor's name
            String subject;
            try {
                subject = new javax.security.auth.x500.X500Principal(req.subject().getEncoded()).getName();
            } catch (java.io.IOException e) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the request's subject cannot be encoded: " + e.getMessage(), e);
            }
            spec = new CaSpec(name, configured.role(), subject, configured.algorithm(), configured.key(), configured.passphrase(),
                    configured.validity(), configured.permittedDns(), configured.excludedDns(), configured.permittedUris());
        }
        CaRecord rootRec = currentRoot("this store has no root CA; run 'fleetpki init --root-only' on this machine first");
        UntrustedCsr csr = UntrustedCsr.parse(csrDer);
        if (!sameName(Dn.parse(spec.subject()), csr.subject())) { // byte for byte: X500Name.equals also takes the RDNs reversed
            throw new PkiException(ErrorKind.NAME_MISMATCH, "the request's subject '" + csr.subject() + "' differs from CA '" + name
                    + "' subject in fleetpki.yaml '" + spec.subject() + "'");
        }
        KeyPolicy.check(csr.publicKey(), Profile.DEFAULT_KEY_ALGORITHMS);
        CaSpec rootSpec = CaSpecs.of(config, registry, rootRec);
        SigningKey rootKey = keys.open(rootSpec.key(), rootSpec.passphrase());
        Instant now = clock.instant();
        X509Certificate cert = sign(ProfileKind.SUB_CA, rootRec.certificate(), rootRec.name(), rootKey, spec, csr.publicKey(), now);
        // recorded as a certificate of the root, so 'fleetpki revoke SERIAL' here puts it on the root's CRL
        registry.recordSubordinate(cert, rootRec.name(), new AuditEvent(now, actor, AuditAction.CA_SIGN_SUBORDINATE, "ca:" + name,
                Map.of("serial", cert.getSerialNumber().toString(16), "signingKey", rootSpec.key().uri().replaceAll("[?].*$", ""),
                        "notAfter", cert.getNotAfter().toInstant().toString())));
        return cert;
    }

    /**
     * Where the root key is: certifies an offline factory station's CA from its request
     * (docs/factory.md, "Offline stations"). The certificate is a CA certificate with pathLen 0,
     * critical name constraints that permit only subjects under the device profile's organization
     * and {@code OU=fleet}, the {@link StationPolicy} (model and quota), and a validity of its own
     * (a station CA is for a production run). Recorded as a certificate of the root, so it can be
     * revoked here.
     */
    public X509Certificate signStation(byte[] csrDer, String station, StationPolicy policy, Duration validity) {
        CaRecord rootRec = currentRoot("this store has no root CA; certify stations where the root key is (the CA home made by 'fleetpki init')");
        if (!policy.issueUntil().isAfter(clock.instant()) || !clock.instant().plus(validity).isAfter(policy.issueUntil())) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the station CA must sign for a while (--issue-for) and live longer than that "
                    + "(--validity): the devices' certificates outlive the production run");
        }
        if (validity.compareTo(Duration.ofDays(30 * 366)) > 0) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "--validity is at most 30 years");
        }
        UntrustedCsr csr = UntrustedCsr.parse(csrDer);
        if (csr.subject().getRDNs(org.bouncycastle.asn1.x500.style.BCStyle.CN).length == 0) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the station's request has no CN in its subject; make it with 'fleetpki ca csr' "
                    + "on the station, whose fleetpki.yaml names the station CA's subject (e.g. \"CN=Acme Line 3 Station CA,O=Acme\")");
        }
        for (CaRecord c : registry.cas()) {
            if (org.bouncycastle.asn1.x500.X500Name.getInstance(c.certificate().getSubjectX500Principal().getEncoded()).equals(csr.subject())) {
                throw new PkiException(ErrorKind.CONFLICT, "CA '" + c.name() + "' already has the subject '" + csr.subject()
                        + "'; give the station CA a subject of its own");
            }
        }
        KeyPolicy.check(csr.publicKey(), Profile.DEFAULT_KEY_ALGORITHMS);
        CaSpec rootSpec = CaSpecs.of(config, registry, rootRec);
        SigningKey rootKey = keys.open(rootSpec.key(), rootSpec.passphrase());
        X509Certificate root = rootRec.certificate();
        Instant now = clock.instant();
        Instant notBefore = now.minusSeconds(300);
        Instant notAfter = now.plus(validity);
        if (notAfter.isAfter(root.getNotAfter().toInstant())) {
            throw new PkiException(ErrorKind.POLICY_VIOLATION, "the station CA would end " + notAfter + ", after the root (" + root.getNotAfter().toInstant()
                    + "); give a shorter --validity");
        }
        if (notBefore.isBefore(root.getNotBefore().toInstant())) {
            notBefore = root.getNotBefore().toInstant();
        }
        String organization = config.profile("device").map(Profile::organization).orElse(null);
        try {
            X509v3CertificateBuilder b = CertificateTemplate.build(ProfileKind.SUB_CA, 0, root, rootRec.name(), csr.subject(), List.of(),
                    csr.publicKey(), SerialNumbers.next(), notBefore, notAfter, urls, null);
            b.addExtension(org.bouncycastle.asn1.x509.Extension.nameConstraints, true, new org.bouncycastle.asn1.x509.NameConstraints(
                    new org.bouncycastle.asn1.x509.GeneralSubtree[] {new org.bouncycastle.asn1.x509.GeneralSubtree(
                            new org.bouncycastle.asn1.x509.GeneralName(StationPolicy.subtree(organization, policy.fleet())))}, null));
            b.addExtension(StationPolicy.OID, false, policy.encode());
            X509CertificateHolder h = b.build(rootKey.contentSigner());
            X509Certificate cert = IssuancePipeline.toX509(h);
            Profile p = config.profile(ProfileKind.SUB_CA.configName()).orElseThrow();
            Lint.check(h, h.getEncoded().length, new Profile(p.name(), ProfileKind.SUB_CA, p.validity(), p.backdate(), p.subject(), p.uriTemplate(),
                    null, p.keyAlgorithms(), 8192, null, List.of(), List.of(), 0, false), root);
            registry.recordSubordinate(cert, rootRec.name(), new AuditEvent(now, actor, AuditAction.CA_SIGN_SUBORDINATE, "station:" + station,
                    Map.of("serial", cert.getSerialNumber().toString(16), "fleet", policy.fleet(), "quota", String.valueOf(policy.quota()),
                            "subject", cert.getSubjectX500Principal().getName(), "notAfter", cert.getNotAfter().toInstant().toString())));
            return cert;
        } catch (IOException e) {
            throw new PkiException(ErrorKind.INTERNAL, "cannot build the station CA certificate: " + e.getMessage(), e);
        }
    }

    /** On the server: stores the root certificate and a sub-CA certificate signed offline, checking both. */
    public List<CaRecord> importSubCa(String name, X509Certificate cert, X509Certificate root) {
        CaSpec spec = subCaSpec(name);
        Instant now = clock.instant();
        try {
            root.verify(root.getPublicKey());
            cert.verify(root.getPublicKey());
        } catch (Exception e) {
            throw new PkiException(ErrorKind.BAD_SIGNATURE, "the certificate for '" + name + "' is not signed by the given root ("
                    + e.getMessage() + ")");
        }
        if (root.getBasicConstraints() < 0 || cert.getBasicConstraints() < 0) {
            throw new PkiException(ErrorKind.POLICY_VIOLATION, "both certificates must be CA certificates (basicConstraints CA:TRUE)");
        }
        SigningKey k = keys.open(spec.key(), spec.passphrase());
        if (!Arrays.equals(k.publicKey().getEncoded(), cert.getPublicKey().getEncoded())) {
            throw new PkiException(ErrorKind.KEY_POLICY, "the certificate for '" + name + "' certifies another key than " + spec.key()
                    + "; import the certificate made from this server's request");
        }
        List<CaRecord> records = new ArrayList<>();
        List<AuditEvent> events = new ArrayList<>();
        var existingRoot = registry.ca(config.root().name());
        if (existingRoot.isEmpty()) {
            records.add(new CaRecord(config.root().name(), CaRole.ROOT, root, null, null, now));
            events.add(new AuditEvent(now, actor, AuditAction.CA_IMPORT, "ca:" + config.root().name(),
                    Map.of("serial", root.getSerialNumber().toString(16), "key", "offline")));
        } else if (!existingRoot.get().certificate().equals(root)) {
            throw new PkiException(ErrorKind.CONFLICT, "this store already has a different root CA certificate");
        }
        CaRecord rec = record(spec, cert, config.root().name(), now);
        records.add(rec);
        events.add(new AuditEvent(now, actor, AuditAction.CA_IMPORT, "ca:" + name, Map.of("serial", cert.getSerialNumber().toString(16),
                "key", spec.key().uri().replaceAll("[?].*$", ""))));
        // an offline station has no OCSP responder, and its name constraints admit device names only
        if (spec.role() == CaRole.ISSUING && StationPolicy.of(cert).isEmpty() && registry.cas().stream().noneMatch(c -> c.role() == CaRole.OCSP)) {
            try {
                addOcspSigner(records, events, rec, now);
            } catch (RuntimeException e) {
                removeCreatedFiles();
                throw e;
            }
        }
        try {
            registry.saveCas(records, events);
        } catch (RuntimeException e) {
            removeCreatedFiles();
            throw e;
        }
        createdFiles.clear();
        return records;
    }

    /** A sub-CA of the store, from fleetpki.yaml or (a rollover successor) from its record. */
    private CaSpec storedSubCaSpec(String name) {
        if (config.ca(name).isPresent()) {
            return subCaSpec(name);
        }
        CaRecord rec = registry.ca(name).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND, "no CA named '" + name + "' in the store"));
        if (rec.role() != CaRole.ISSUING && rec.role() != CaRole.CODE_SIGNING) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "CA '" + name + "' is " + rec.role().configName()
                    + "; only issuing and code-signing CAs certify OCSP signers and SCEP RAs");
        }
        return CaSpecs.of(config, registry, rec);
    }

    private CaSpec subCaSpec(String name) {
        CaSpec spec = config.ca(name).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND, "no CA named '" + name
                + "' in fleetpki.yaml's ceremony section"));
        if (spec.role() != CaRole.ISSUING && spec.role() != CaRole.CODE_SIGNING) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "CA '" + name + "' is the " + spec.role().configName()
                    + " CA; only issuing and code-signing CAs are signed by the root");
        }
        return spec;
    }

    SigningKey create(CaSpec spec) {
        try {
            SigningKey k = keys.create(spec.key(), spec.algorithm(), spec.passphrase());
            if (spec.key().isFile()) {
                createdFiles.add(spec.key().filePath(config.home()));
            }
            return k;
        } catch (KeyStoreFailure e) {
            throw new PkiException(ErrorKind.CONFIG, "cannot create the key of CA '" + spec.name() + "': " + e.getMessage(), e);
        }
    }

    /** Forgets the key files created so far: they certify something now and must stay. */
    void keepCreatedFiles() {
        createdFiles.clear();
    }

    void removeCreatedFiles() {
        for (Path p : createdFiles) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException ignored) {
                // best effort; the key never certified anything
            }
        }
        createdFiles.clear();
    }

    X509Certificate sign(ProfileKind kind, X509Certificate issuer, String issuerName, SigningKey issuerKey, CaSpec spec,
                         PublicKey subjectKey, Instant now) {
        return sign(kind, 0, issuer, issuerName, issuerKey, spec, subjectKey, now);
    }

    /**
     * Signs a CA-side certificate for {@code spec} and lints it; {@code issuer} null makes it
     * self-signed. {@code pathLength} -1 leaves a CA certificate without a path length limit (a
     * root-to-root cross certificate, which has a whole hierarchy below it).
     */
    X509Certificate sign(ProfileKind kind, int pathLength, X509Certificate issuer, String issuerName, SigningKey issuerKey, CaSpec spec,
                         PublicKey subjectKey, Instant now) {
        Instant notBefore = now.minusSeconds(300);
        Instant notAfter = now.plus(spec.validity());
        if (issuer != null) {
            if (notAfter.isAfter(issuer.getNotAfter().toInstant())) {
                throw new PkiException(ErrorKind.POLICY_VIOLATION, "CA '" + spec.name() + "' would end " + notAfter + ", after its issuer ("
                        + issuer.getNotAfter().toInstant() + "); shorten its validity in fleetpki.yaml");
            }
            if (notBefore.isBefore(issuer.getNotBefore().toInstant())) {
                notBefore = issuer.getNotBefore().toInstant();
            }
        }
        X509v3CertificateBuilder b = CertificateTemplate.build(kind, pathLength, issuer, issuerName, Dn.parse(spec.subject()), List.of(),
                subjectKey, SerialNumbers.next(), notBefore, notAfter, urls, spec.role() == CaRole.ISSUING ? spec : null);
        X509CertificateHolder h = b.build(issuerKey.contentSigner());
        X509Certificate c = IssuancePipeline.toX509(h);
        Profile profile = config.profile(kind.configName()).orElseThrow();
        try {
            Lint.check(h, h.getEncoded().length, new Profile(profile.name(), kind, profile.validity(), profile.backdate(), profile.subject(),
                    profile.uriTemplate(), null, profile.keyAlgorithms(), 8192, null, List.of(), List.of(), 0, false), issuer);
        } catch (IOException e) {
            throw new PkiException(ErrorKind.INTERNAL, "cannot encode CA certificate", e);
        }
        return c;
    }

    private CaRecord record(CaSpec spec, X509Certificate cert, String parent, Instant now) {
        return new CaRecord(spec.name(), spec.role(), cert, spec.key().uri(), parent, now);
    }

    private AuditEvent event(CaSpec spec, X509Certificate cert, SigningKey signer, Instant now) {
        return new AuditEvent(now, actor, AuditAction.CA_CREATE, "ca:" + spec.name(), Map.of(
                "role", spec.role().configName(),
                "algorithm", spec.algorithm().configName(),
                "key", spec.key().uri().replaceAll("[?].*$", ""),
                "serial", cert.getSerialNumber().toString(16),
                "signingKey", signer.ref().uri().replaceAll("[?].*$", ""),
                "notAfter", cert.getNotAfter().toInstant().toString()));
    }
}
