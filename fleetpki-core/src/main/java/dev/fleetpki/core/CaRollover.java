package dev.fleetpki.core;

import dev.fleetpki.core.config.CaRole;
import dev.fleetpki.core.config.CaSpec;
import dev.fleetpki.core.config.FleetConfig;
import dev.fleetpki.core.store.CertificateStore;
import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.KeyRef;
import dev.fleetpki.kms.KeyStoreFailure;
import dev.fleetpki.kms.SigningKey;
import java.nio.file.Files;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Replaces a root, issuing or code-signing CA with a successor that has a new key, before the old
 * one expires, in recorded steps ({@link Rollover.Step}): make the key; certify the successor (by
 * the current parent; a new root by itself, plus the two root-to-root cross certificates); publish
 * it (EST cacerts, the trust bundle, SCEP GetNextCACert, CMP root CA key update); switch issuance
 * to it; retire the old CA once its last certificate has expired. Each step is stored in the
 * transaction that stores what it made, so a command cut short at any point is run again and
 * continues; a key made but not yet recorded is found at its place and used, never made twice.
 */
public final class CaRollover {
    /**
     * What the operator may choose; null fields take the defaults {@link #plan} shows.
     *
     * @param signed for step certified, what was signed where the parent's key is: the successor's
     *     certificate (under an offline root), or for an offline root itself the new root and both
     *     cross certificates its machine wrote; empty: the parent signs here
     */
    public record Options(String newName, String subject, KeyAlgorithm algorithm, List<X509Certificate> signed) {
        public Options {
            signed = signed == null ? List.of() : List.copyOf(signed);
        }

        public Options(String newName, String subject, KeyAlgorithm algorithm) {
            this(newName, subject, algorithm, List.of());
        }

        public static Options defaults() {
            return new Options(null, null, null, List.of());
        }
    }

    /** One step of a plan: whether it is done already, and what it does (or did). */
    public record PlannedStep(Rollover.Step step, boolean done, String what) {}

    /** What {@link #perform} would do, from where the rollover stands. */
    public record Plan(String oldName, String newName, CaRole role, String newSubject, String keyRef, KeyAlgorithm algorithm,
                       Optional<Rollover> current, List<PlannedStep> steps) {}

    private static final Pattern GENERATION = Pattern.compile("^(.*?)-(\\d+)$");
    private static final Pattern CN_GENERATION = Pattern.compile("^(.*?)(?: G(\\d+))?$");

    private final FleetConfig config;
    private final StoredCaDirectory cas;
    private final CaRegistry registry;
    private final CertificateStore certificates;
    private final Clock clock;
    private final Actor actor;

    public CaRollover(FleetConfig config, StoredCaDirectory cas, CaRegistry registry, CertificateStore certificates, Clock clock, Actor actor) {
        this.config = config;
        this.cas = cas;
        this.registry = registry;
        this.certificates = certificates;
        this.clock = clock;
        this.actor = actor;
    }

    /** The plan for rolling {@code name} over, changing nothing (what {@code --dry-run} shows). */
    public Plan plan(String name, Options o) {
        CaRecord old = rollable(name);
        Optional<Rollover> cur = rolloverOf(name);
        String newName = cur.map(Rollover::newName).orElseGet(() -> o.newName() != null ? o.newName() : nextName(name));
        if (cur.isEmpty()) {
            checkNewName(newName);
        }
        String subject = cur.map(Rollover::newSubject).orElseGet(() -> o.subject() != null ? subject(o.subject())
                : nextSubject(old.certificate().getSubjectX500Principal().getName()));
        CaSpec oldSpec = CaSpecs.of(config, registry, old);
        KeyAlgorithm alg = o.algorithm() != null ? o.algorithm() : oldSpec.algorithm();
        String keyRef = cur.map(Rollover::newKeyRef).orElseGet(() -> keyRefFor(oldSpec.key(), newName).uri());
        if (cur.isPresent() && cur.get().atLeast(Rollover.Step.CERTIFIED)) {
            alg = KeyAlgorithm.of(registry.ca(newName).orElseThrow().certificate().getPublicKey());
        }
        Rollover.Step at = cur.map(Rollover::step).orElse(null);
        boolean root = old.role() == CaRole.ROOT;
        String parent = root ? null : cas.current(old.parent());
        Map<Rollover.Step, String> what = new LinkedHashMap<>();
        boolean offlineRoot = root && old.keyElsewhere();
        what.put(Rollover.Step.KEY, offlineRoot ? "on the root's machine (the root key is not here): 'fleetpki ca rollover --name " + name
                + "' there makes the key of '" + newName + "'" : "create the key of '" + newName + "' (" + alg.configName() + ") at " + withoutQuery(keyRef));
        what.put(Rollover.Step.CERTIFIED, offlineRoot
                ? "take the new root and both cross certificates the root's machine wrote (--signed " + newName + "-rollover.pem), each signature "
                        + "checked here"
                : root
                ? "self-sign the new root '" + newName + "' (" + subject + "); cross-sign both ways: '" + name + "' certifies the new key "
                        + "(new-with-old, so devices that trust only '" + name + "' reach and learn the new root) and '" + newName
                        + "' certifies the old key (old-with-new)"
                : "'" + parent + "' certifies '" + newName + "' (" + subject + ")" + (parent.equals(old.parent()) ? "" : ", in place of '"
                        + old.parent() + "'"));
        what.put(Rollover.Step.PUBLISHED, root
                ? "offer the new root and both cross certificates in EST cacerts, CMP root CA key updates and the trust bundle"
                : "offer '" + newName + "' in the trust bundle and as SCEP GetNextCACert");
        what.put(Rollover.Step.SWITCHED, root
                ? "new CAs are certified by '" + newName + "' (then roll over each issuing CA under it)"
                : "new certificates come from '" + newName + "'; '" + name + "' signs only CRLs and OCSP answers for its own");
        what.put(Rollover.Step.RETIRED, "once the last certificate '" + name + "' signed has expired (" + lastUse(old).map(Instant::toString)
                .orElse("it signed none") + "), stop publishing and using it");
        List<PlannedStep> steps = new ArrayList<>();
        for (var e : what.entrySet()) {
            steps.add(new PlannedStep(e.getKey(), at != null && at.compareTo(e.getKey()) >= 0, e.getValue()));
        }
        return new Plan(name, newName, old.role(), subject, keyRef, alg, cur, steps);
    }

    /**
     * Performs the steps not yet done, up to and including {@code until}, telling {@code progress}
     * each one as it is done. Running it again after a failure or a crash continues where it stopped.
     */
    public Rollover perform(String name, Options o, Rollover.Step until, Consumer<String> progress) {
        Plan plan = plan(name, o);
        CaRecord old = registry.ca(name).orElseThrow();
        Rollover r = plan.current().orElse(null);
        if (old.role() == CaRole.ROOT && old.keyElsewhere() && r == null) {
            // an offline root: its successor is made, self-signed and cross-signed on the root's machine; never a root key here
            if (o.signed().isEmpty()) {
                throw new PkiException(ErrorKind.CONFIG, "the key of root '" + name + "' is not on this machine (an offline root), and no root "
                        + "key is made here: roll it over on the root's machine ('fleetpki ca rollover --name " + name + " --to switched' there), "
                        + "then bring the bundle it writes (ca/" + plan.newName() + "-rollover.pem) here: 'fleetpki ca rollover --name " + name
                        + " --signed " + plan.newName() + "-rollover.pem'");
            }
            r = rootMadeElsewhere(plan, old, o.signed());
            progress.accept(String.format("%-9s %s", Rollover.Step.CERTIFIED.wireName(), describe(r, Rollover.Step.CERTIFIED)
                    + ", taken from the root's machine"));
        }
        if (r == null) {
            r = makeKey(plan, old);
            progress.accept("key       " + plan.newName() + " key at " + withoutQuery(plan.keyRef()));
        }
        while (r.step().compareTo(until) < 0) {
            Rollover.Step next = Rollover.Step.values()[r.step().ordinal() + 1];
            r = switch (next) {
                case CERTIFIED -> o.signed().isEmpty() ? certify(r, old) : certifiedElsewhere(r, old, o.signed());
                case PUBLISHED, SWITCHED -> advance(r, next, Map.of());
                case RETIRED -> retire(r, old);
                case KEY -> throw new IllegalStateException();
            };
            progress.accept(String.format("%-9s %s", next.wireName(), describe(r, next)));
        }
        cas.rolloversChanged();
        return r;
    }

    private String describe(Rollover r, Rollover.Step step) {
        return switch (step) {
            case CERTIFIED -> "'" + r.newName() + "' certified until " + registry.ca(r.newName()).orElseThrow().certificate().getNotAfter().toInstant()
                    + (r.newWithOld() != null ? "; cross certificates serial " + r.newWithOld().getSerialNumber().toString(16) + " (new-with-old) and "
                    + r.oldWithNew().getSerialNumber().toString(16) + " (old-with-new)" : "");
            case PUBLISHED -> "'" + r.newName() + "' is offered beside '" + r.oldName() + "'";
            case SWITCHED -> r.role() == CaRole.ROOT ? "new CAs are certified by '" + r.newName() + "'"
                    : "new certificates come from '" + r.newName() + "'";
            case RETIRED -> "'" + r.oldName() + "' is retired";
            case KEY -> "";
        };
    }

    private Rollover makeKey(Plan plan, CaRecord old) {
        CaSpec spec = successorSpec(plan, old);
        Ceremony ceremony = new Ceremony(config, cas.keys(), registry, clock, actor);
        try {
            SigningKey k = openOrCreate(spec, ceremony);
            Failpoints.hit("rollover.key-created");
            Instant now = clock.instant();
            Rollover r = new Rollover(plan.oldName(), plan.newName(), old.role(), spec.key().uri(), plan.newSubject(), Rollover.Step.KEY,
                    null, null, now, now);
            registry.saveRollover(r, null, List.of(), List.of(), event(r, Map.of("key", withoutQuery(spec.key().uri()),
                    "algorithm", KeyAlgorithm.of(k.publicKey()).configName())));
            ceremony.keepCreatedFiles();
            return r;
        } catch (RuntimeException e) {
            ceremony.removeCreatedFiles();
            throw e;
        }
    }

    /**
     * The successor's key: made at its place, or, when a run was cut short between making it and
     * recording the step, found there and used (only rollover makes keys at that place).
     */
    private SigningKey openOrCreate(CaSpec spec, Ceremony ceremony) {
        boolean there = spec.key().isFile() ? Files.exists(spec.key().filePath(config.home())) : opens(spec);
        if (there) {
            try {
                return cas.keys().open(spec.key(), spec.passphrase());
            } catch (KeyStoreFailure e) {
                throw new PkiException(ErrorKind.CONFIG, "a key is already at " + withoutQuery(spec.key().uri()) + " and cannot be opened with CA '"
                        + spec.name() + "''s passphrase (" + e.getMessage() + "); move it away or choose another --new-name", e);
            }
        }
        return ceremony.create(spec);
    }

    private boolean opens(CaSpec spec) {
        try {
            cas.keys().open(spec.key(), spec.passphrase());
            return true;
        } catch (KeyStoreFailure | PkiException e) {
            return false;
        }
    }

    private Rollover certify(Rollover r, CaRecord old) {
        CaSpec oldSpec = CaSpecs.of(config, registry, old);
        CaSpec spec = CaSpecs.successor(oldSpec, r.newName(), r.newSubject(), oldSpec.algorithm(), KeyRef.parse(r.newKeyRef()));
        SigningKey key;
        try {
            key = cas.keys().open(spec.key(), spec.passphrase());
        } catch (KeyStoreFailure e) {
            throw new PkiException(ErrorKind.CONFIG, "cannot open the key of '" + r.newName() + "' made at step key: " + e.getMessage(), e);
        }
        Ceremony ceremony = new Ceremony(config, cas.keys(), registry, clock, actor);
        Instant now = clock.instant();
        if (r.role() == CaRole.ROOT) {
            CertificateAuthority oldRoot = openHere(old.name(), "cross-sign the new root");
            X509Certificate newRoot = ceremony.sign(ProfileKind.SUB_CA, null, null, key, spec, key.publicKey(), now);
            // both cross certificates end with the old root: after that nothing needs the bridge
            Duration bridge = Duration.between(now, old.certificate().getNotAfter().toInstant()).minusMinutes(1);
            if (bridge.isNegative() || bridge.isZero()) {
                throw new PkiException(ErrorKind.POLICY_VIOLATION, "root '" + old.name() + "' has ended; devices that trust it can no longer "
                        + "be moved to a new root through it. Give them the new root out of band");
            }
            CaSpec newWithOldSpec = new CaSpec(r.newName(), CaRole.ROOT, r.newSubject(), spec.algorithm(), spec.key(), spec.passphrase(), bridge,
                    List.of(), List.of(), List.of());
            CaSpec oldWithNewSpec = new CaSpec(old.name(), CaRole.ROOT, old.certificate().getSubjectX500Principal().getName(), oldSpec.algorithm(),
                    oldSpec.key(), oldSpec.passphrase(), bridge, List.of(), List.of(), List.of());
            X509Certificate newWithOld = ceremony.sign(ProfileKind.SUB_CA, -1, old.certificate(), old.name(), oldRoot.key(), newWithOldSpec,
                    key.publicKey(), now);
            X509Certificate oldWithNew = ceremony.sign(ProfileKind.SUB_CA, -1, newRoot, r.newName(), key, oldWithNewSpec,
                    old.certificate().getPublicKey(), now);
            Rollover next = r.at(Rollover.Step.CERTIFIED, now).withCrossCertificates(newWithOld, oldWithNew);
            registry.saveRollover(next, r.step(), List.of(new CaRecord(r.newName(), CaRole.ROOT, newRoot, r.newKeyRef(), null, now)),
                    List.of(new Rollover.Signed(newWithOld, old.name()), new Rollover.Signed(oldWithNew, r.newName())),
                    event(next, Map.of("serial", newRoot.getSerialNumber().toString(16), "notAfter", newRoot.getNotAfter().toInstant().toString(),
                            "newWithOld", newWithOld.getSerialNumber().toString(16), "oldWithNew", oldWithNew.getSerialNumber().toString(16))));
            return next;
        }
        String parentName = cas.current(old.parent());
        CertificateAuthority parent = openHere(parentName, "certify '" + r.newName() + "'");
        Duration left = Duration.between(now, parent.certificate().getNotAfter().toInstant()).minusMinutes(1);
        if (left.compareTo(Duration.ofDays(1)) < 0) {
            throw new PkiException(ErrorKind.POLICY_VIOLATION, "'" + parentName + "' ends " + parent.certificate().getNotAfter().toInstant()
                    + ", too soon to certify a successor under it; roll over the root first (fleetpki ca rollover --name " + parentName + ")");
        }
        CaSpec capped = spec.validity().compareTo(left) > 0 ? new CaSpec(spec.name(), spec.role(), spec.subject(), spec.algorithm(), spec.key(),
                spec.passphrase(), left, spec.permittedDns(), spec.excludedDns(), spec.permittedUris()) : spec;
        X509Certificate cert = ceremony.sign(ProfileKind.SUB_CA, parent.certificate(), parentName, parent.key(), capped, key.publicKey(), now);
        Rollover next = r.at(Rollover.Step.CERTIFIED, now);
        registry.saveRollover(next, r.step(), List.of(new CaRecord(r.newName(), r.role(), cert, r.newKeyRef(), parentName, now)), List.of(),
                event(next, Map.of("serial", cert.getSerialNumber().toString(16), "parent", parentName,
                        "notAfter", cert.getNotAfter().toInstant().toString())));
        return next;
    }

    /**
     * Whether the successor of {@code name} is certified by a parent whose key is not here (an
     * offline root): then step certified takes the certificate signed there ({@link Options#signed}).
     */
    public boolean parentOffline(String name) {
        CaRecord old = registry.ca(name).orElseThrow();
        return old.role() != CaRole.ROOT && registry.ca(cas.current(old.parent())).map(CaRecord::keyElsewhere).orElse(false);
    }

    /** The request for the successor's certificate (its key made at step key, its planned subject), for the parent's machine. */
    public org.bouncycastle.pkcs.PKCS10CertificationRequest successorRequest(String name) {
        Rollover r = rolloverOf(name).filter(x -> x.step() == Rollover.Step.KEY).orElseThrow(() -> new PkiException(ErrorKind.CONFLICT,
                "the rollover of '" + name + "' is not at step key; a request is made between steps key and certified"));
        CaRecord old = registry.ca(name).orElseThrow();
        CaSpec oldSpec = CaSpecs.of(config, registry, old);
        SigningKey key = cas.keys().open(KeyRef.parse(r.newKeyRef()), oldSpec.passphrase());
        try {
            return new org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder(Dn.parse(r.newSubject()), key.publicKey())
                    .build(key.contentSigner());
        } catch (RuntimeException e) {
            throw new PkiException(ErrorKind.INTERNAL, "cannot make the request for '" + r.newName() + "': " + e.getMessage(), e);
        }
    }

    /**
     * Step certified with a certificate the parent signed on its own machine: it must verify with
     * the parent's key, certify the successor's key with the planned subject, be a CA certificate
     * (pathLen 0 below a root), and end no later than the parent.
     */
    private Rollover certifiedElsewhere(Rollover r, CaRecord old, List<X509Certificate> given) {
        if (r.role() == CaRole.ROOT) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "root '" + old.name() + "''s key is on this machine: its successor is made "
                    + "here; --signed is for a CA whose parent is offline, or for taking a new root made on an offline root's machine");
        }
        if (given.size() != 1) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "--signed names " + given.size() + " certificates; for '" + r.newName()
                    + "' it is the one certificate 'fleetpki ca sign --successor' wrote");
        }
        X509Certificate cert = given.getFirst();
        String parentName = cas.current(old.parent());
        X509Certificate parent = registry.ca(parentName).orElseThrow().certificate();
        CaSpec oldSpec = CaSpecs.of(config, registry, old);
        SigningKey key = cas.keys().open(KeyRef.parse(r.newKeyRef()), oldSpec.passphrase());
        List<String> wrong = new ArrayList<>();
        try {
            cert.verify(parent.getPublicKey());
        } catch (java.security.GeneralSecurityException e) {
            wrong.add("it is not signed by '" + parentName + "' (" + e.getMessage() + ")");
        }
        if (!java.util.Arrays.equals(cert.getPublicKey().getEncoded(), key.publicKey().getEncoded())) {
            wrong.add("it certifies another key than the one made for '" + r.newName() + "' at " + withoutQuery(r.newKeyRef()));
        }
        if (!Ceremony.sameName(org.bouncycastle.asn1.x500.X500Name.getInstance(cert.getSubjectX500Principal().getEncoded()), Dn.parse(r.newSubject()))) {
            wrong.add("its subject is '" + cert.getSubjectX500Principal().getName() + "', not '" + r.newSubject() + "'");
        }
        if (cert.getBasicConstraints() != 0) {
            wrong.add("it is not a CA certificate with pathLen 0");
        }
        if (cert.getNotAfter().after(parent.getNotAfter())) {
            wrong.add("it ends after '" + parentName + "'");
        }
        if (!wrong.isEmpty()) {
            throw new PkiException(ErrorKind.POLICY_VIOLATION, "the certificate given for '" + r.newName() + "' is refused: " + String.join("; ", wrong));
        }
        Instant now = clock.instant();
        Rollover next = r.at(Rollover.Step.CERTIFIED, now);
        registry.saveRollover(next, r.step(), List.of(new CaRecord(r.newName(), r.role(), cert, r.newKeyRef(), parentName, now)), List.of(),
                event(next, Map.of("serial", cert.getSerialNumber().toString(16), "parent", parentName, "signed", "offline",
                        "notAfter", cert.getNotAfter().toInstant().toString())));
        return next;
    }

    /**
     * Step certified for an offline root, from what its machine made: the new root (self-signed, a
     * CA, another key and subject than the old root's) and both cross certificates, new-with-old
     * verifying with the old root's key and old-with-new with the new root's, each certifying the
     * right key under the right names. Recorded as a rollover at step certified whose new root has
     * no key here, as the old root has none.
     */
    private Rollover rootMadeElsewhere(Plan plan, CaRecord old, List<X509Certificate> given) {
        X509Certificate oldRoot = old.certificate();
        X509Certificate newRoot = null;
        X509Certificate newWithOld = null;
        X509Certificate oldWithNew = null;
        for (X509Certificate c : given) {
            boolean self = c.getSubjectX500Principal().equals(c.getIssuerX500Principal());
            if (self && !java.util.Arrays.equals(c.getPublicKey().getEncoded(), oldRoot.getPublicKey().getEncoded())) {
                newRoot = c;
            } else if (c.getSubjectX500Principal().equals(oldRoot.getSubjectX500Principal()) && !self) {
                oldWithNew = c;
            } else if (c.getIssuerX500Principal().equals(oldRoot.getSubjectX500Principal()) && !self) {
                newWithOld = c;
            }
        }
        if (given.size() != 3 || newRoot == null || newWithOld == null || oldWithNew == null) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "--signed for root '" + old.name() + "' takes the new root and both cross "
                    + "certificates, as the root's machine wrote them to ca/NEW-rollover.pem; this file holds " + given.size()
                    + " certificate(s)" + (newRoot == null ? ", no new self-signed root" : "") + (newWithOld == null ? ", no certificate of the new "
                    + "root by '" + old.name() + "'" : "") + (oldWithNew == null ? ", no certificate of '" + old.name() + "' by the new root" : ""));
        }
        List<String> wrong = new ArrayList<>();
        verifies(newRoot, newRoot, "the new root is not self-signed", wrong);
        verifies(newWithOld, oldRoot, "new-with-old is not signed by '" + old.name() + "'", wrong);
        verifies(oldWithNew, newRoot, "old-with-new is not signed by the new root", wrong);
        if (!java.util.Arrays.equals(newWithOld.getPublicKey().getEncoded(), newRoot.getPublicKey().getEncoded())
                || !newWithOld.getSubjectX500Principal().equals(newRoot.getSubjectX500Principal())) {
            wrong.add("new-with-old does not certify the new root's key and name");
        }
        if (!java.util.Arrays.equals(oldWithNew.getPublicKey().getEncoded(), oldRoot.getPublicKey().getEncoded())
                || !oldWithNew.getIssuerX500Principal().equals(newRoot.getSubjectX500Principal())) {
            wrong.add("old-with-new does not certify '" + old.name() + "''s key under the new root's name");
        }
        for (X509Certificate c : List.of(newRoot, newWithOld, oldWithNew)) {
            if (c.getBasicConstraints() < 0) {
                wrong.add("'" + c.getSubjectX500Principal().getName() + "' (serial " + c.getSerialNumber().toString(16) + ") is not a CA certificate");
            }
        }
        Instant now = clock.instant();
        if (!newRoot.getNotAfter().toInstant().isAfter(now)) {
            wrong.add("the new root has ended");
        }
        for (CaRecord c : registry.cas()) {
            if (c.certificate().getSubjectX500Principal().equals(newRoot.getSubjectX500Principal())) {
                wrong.add("the new root's subject is CA '" + c.name() + "''s");
            }
        }
        if (!wrong.isEmpty()) {
            throw new PkiException(ErrorKind.POLICY_VIOLATION, "the new root given for '" + old.name() + "' is refused: " + String.join("; ", wrong));
        }
        String subject = newRoot.getSubjectX500Principal().getName();
        Rollover r = new Rollover(old.name(), plan.newName(), CaRole.ROOT, plan.keyRef(), subject, Rollover.Step.CERTIFIED, newWithOld, oldWithNew,
                now, now);
        registry.saveRollover(r, null, List.of(new CaRecord(plan.newName(), CaRole.ROOT, newRoot, null, null, now)),
                List.of(new Rollover.Signed(newWithOld, old.name()), new Rollover.Signed(oldWithNew, plan.newName())),
                event(r, Map.of("serial", newRoot.getSerialNumber().toString(16), "notAfter", newRoot.getNotAfter().toInstant().toString(),
                        "newWithOld", newWithOld.getSerialNumber().toString(16), "oldWithNew", oldWithNew.getSerialNumber().toString(16),
                        "signed", "offline")));
        return r;
    }

    private static void verifies(X509Certificate c, X509Certificate by, String otherwise, List<String> wrong) {
        try {
            c.verify(by.getPublicKey());
        } catch (java.security.GeneralSecurityException e) {
            wrong.add(otherwise);
        }
    }

    private Rollover advance(Rollover r, Rollover.Step next, Map<String, String> detail) {
        Rollover n = r.at(next, clock.instant());
        registry.saveRollover(n, r.step(), List.of(), List.of(), event(n, detail));
        return n;
    }

    private Rollover retire(Rollover r, CaRecord old) {
        Instant now = clock.instant();
        Optional<Instant> last = lastUse(old);
        if (last.isPresent() && last.get().isAfter(now)) {
            throw new PkiException(ErrorKind.POLICY_VIOLATION, "'" + old.name() + "' cannot be retired yet: a certificate it signed is valid until "
                    + last.get() + ", and relying parties need '" + old.name() + "' to verify it until then. Run this again after that "
                    + "(or revoke those certificates and wait for them to expire)");
        }
        return advance(r, Rollover.Step.RETIRED, Map.of());
    }

    /**
     * When the last certificate the CA signed ends: end-entity certificates, CAs it certified (not
     * its own OCSP signers and RAs), but not the cross certificate to its own successor, which
     * bridges to the new root until the old one ends and is no reason to keep publishing the old root.
     */
    private Optional<Instant> lastUse(CaRecord old) {
        String bridge = rolloverOf(old.name()).map(Rollover::newWithOld).map(c -> SerialNumbers.hex(c.getSerialNumber())).orElse(null);
        Optional<Instant> last = certificates.lastExpiry(old.name(), bridge);
        for (CaRecord c : registry.cas()) {
            if (old.name().equals(c.parent()) && c.role() != CaRole.OCSP && c.role() != CaRole.SCEP_RA) {
                Instant end = c.certificate().getNotAfter().toInstant();
                if (last.isEmpty() || end.isAfter(last.get())) {
                    last = Optional.of(end);
                }
            }
        }
        return last;
    }

    private CertificateAuthority openHere(String caName, String forWhat) {
        CaRecord rec = registry.ca(caName).orElseThrow();
        if (rec.keyRef() == null) {
            throw new PkiException(ErrorKind.CONFIG, "the key of '" + caName + "' is not on this machine (an offline root); it is needed to "
                    + forWhat + ". For an issuing or code-signing CA: run 'fleetpki ca rollover --to key' here, which writes the successor's "
                    + "request, sign it on the root's machine ('fleetpki ca sign --successor'), then continue here with --signed FILE");
        }
        return cas.get(caName);
    }

    private CaRecord rollable(String name) {
        CaRecord rec = registry.ca(name).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND, "no CA named '" + name
                + "' in the store; 'fleetpki ca list' shows them"));
        if (rec.role() != CaRole.ROOT && rec.role() != CaRole.ISSUING && rec.role() != CaRole.CODE_SIGNING) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "'" + name + "' is " + rec.role().configName() + "; only root, issuing and "
                    + "code-signing CAs are rolled over (OCSP signers and SCEP RAs are replaced automatically before they end)");
        }
        for (Rollover r : registry.rollovers()) {
            if (r.newName().equals(name) && !r.atLeast(Rollover.Step.SWITCHED)) {
                throw new PkiException(ErrorKind.CONFLICT, "'" + name + "' is the successor of '" + r.oldName() + "', whose rollover is at step "
                        + r.step().wireName() + "; finish it (fleetpki ca rollover --name " + r.oldName() + " --to switched) before rolling '"
                        + name + "' over");
            }
        }
        return rec;
    }

    private Optional<Rollover> rolloverOf(String name) {
        return registry.rollovers().stream().filter(r -> r.oldName().equals(name)).findFirst();
    }

    private void checkNewName(String newName) {
        if (!newName.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,62}")) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "'" + newName + "' is not a usable CA name: letters, digits, '.', '_' and '-', "
                    + "at most 63, starting with a letter or digit");
        }
        if (registry.ca(newName).isPresent() || config.ca(newName).isPresent()) {
            throw new PkiException(ErrorKind.CONFLICT, "a CA named '" + newName + "' exists already; choose another with --new-name");
        }
    }

    /** {@code factory} becomes {@code factory-2}; a successor {@code factory-2} becomes {@code factory-3}. */
    private String nextName(String name) {
        boolean successor = registry.rollovers().stream().anyMatch(r -> r.newName().equals(name));
        Matcher m = GENERATION.matcher(name);
        if (successor && m.matches()) {
            return m.group(1) + "-" + (Integer.parseInt(m.group(2)) + 1);
        }
        return name + "-2";
    }

    /** The old subject with its CN marked as the next generation: {@code CN=Acme Root} becomes {@code CN=Acme Root G2}, then G3. */
    static String nextSubject(String rfc2253) {
        try {
            javax.naming.ldap.LdapName dn = new javax.naming.ldap.LdapName(rfc2253);
            for (int i = dn.size() - 1; i >= 0; i--) { // most specific first
                javax.naming.ldap.Rdn rdn = dn.getRdns().get(i);
                if (rdn.getType().equalsIgnoreCase("CN")) {
                    Matcher m = CN_GENERATION.matcher(rdn.getValue().toString());
                    m.matches();
                    int gen = m.group(2) == null ? 2 : Integer.parseInt(m.group(2)) + 1;
                    dn.remove(i);
                    dn.add(i, new javax.naming.ldap.Rdn("CN", m.group(1) + " G" + gen));
                    return dn.toString();
                }
            }
        } catch (javax.naming.InvalidNameException e) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the CA's subject '" + rfc2253 + "' is not a distinguished name: " + e.getMessage(), e);
        }
        throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the CA's subject '" + rfc2253 + "' has no CN to mark the new generation in; "
                + "give the successor's subject with --subject");
    }

    private static String subject(String text) {
        try {
            Dn.parse(text);
            return new javax.security.auth.x500.X500Principal(text).getName();
        } catch (IllegalArgumentException e) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, e.getMessage(), e);
        }
    }

    private KeyRef keyRefFor(KeyRef old, String newName) {
        return old.isFile() ? KeyRef.parse("file:keys/" + newName + ".p8")
                : KeyRef.parse(old.uri().replaceFirst("object=[^;?]*", "object=" + newName));
    }

    private CaSpec successorSpec(Plan plan, CaRecord old) {
        return CaSpecs.successor(CaSpecs.of(config, registry, old), plan.newName(), plan.newSubject(), plan.algorithm(), KeyRef.parse(plan.keyRef()));
    }

    private AuditEvent event(Rollover r, Map<String, String> more) {
        Map<String, String> d = new LinkedHashMap<>();
        d.put("step", r.step().wireName());
        d.put("successor", r.newName());
        d.putAll(more);
        return new AuditEvent(r.updatedAt(), actor, AuditAction.CA_ROLLOVER, "ca:" + r.oldName(), d);
    }

    private static String withoutQuery(String uri) {
        return uri.replaceAll("[?].*$", "");
    }

    // ---- what relying parties are offered ----

    /**
     * The root CA key update certificates to offer beside a CA chain (RFC 7030 4.1.3 asks EST cacerts
     * for OldWithOld, OldWithNew and NewWithOld; the new root itself is NewWithNew): for every root
     * rollover that is published and not retired, the new root, the old root and both cross certificates.
     */
    public static List<X509Certificate> rootKeyUpdates(CaRegistry registry) {
        Set<X509Certificate> out = new LinkedHashSet<>();
        for (Rollover r : registry.rollovers()) {
            if (r.role() == CaRole.ROOT && r.atLeast(Rollover.Step.PUBLISHED) && !r.atLeast(Rollover.Step.RETIRED)) {
                registry.ca(r.newName()).ifPresent(c -> out.add(c.certificate()));
                out.add(r.newWithOld());
                out.add(r.oldWithNew());
                registry.ca(r.oldName()).ifPresent(c -> out.add(c.certificate()));
            }
        }
        return List.copyOf(out);
    }

    /**
     * A chain to present (a server's TLS chain) with a self-signed new root at its end replaced by
     * new-with-old while its rollover is published and not retired: clients that trust the new root
     * stop at the issuing CA below it, and clients that still trust only the old root reach it
     * through the cross certificate.
     */
    public static List<X509Certificate> bridged(CaRegistry registry, List<X509Certificate> chain) {
        if (chain.isEmpty()) {
            return chain;
        }
        X509Certificate top = chain.getLast();
        for (Rollover r : registry.rollovers()) {
            if (r.role() == CaRole.ROOT && r.atLeast(Rollover.Step.PUBLISHED) && !r.atLeast(Rollover.Step.RETIRED)
                    && registry.ca(r.newName()).map(c -> c.certificate().equals(top)).orElse(false)) {
                List<X509Certificate> out = new ArrayList<>(chain.subList(0, chain.size() - 1));
                out.add(r.newWithOld());
                return out;
            }
        }
        return chain;
    }

    /** Whether relying parties are offered this CA: not a successor before it is published, not a retired CA. */
    public static boolean published(CaRegistry registry, String caName) {
        for (Rollover r : registry.rollovers()) {
            if (r.newName().equals(caName) && !r.atLeast(Rollover.Step.PUBLISHED)) {
                return false;
            }
            if (r.oldName().equals(caName) && r.atLeast(Rollover.Step.RETIRED)) {
                return false;
            }
        }
        return true;
    }

    /** The published successor of {@code caName} that issuance has not switched to yet (SCEP GetNextCACert), if any. */
    public static Optional<CaRecord> nextCa(CaRegistry registry, String caName) {
        return registry.rollovers().stream()
                .filter(r -> r.oldName().equals(caName) && r.atLeast(Rollover.Step.PUBLISHED) && !r.atLeast(Rollover.Step.SWITCHED))
                .findFirst().flatMap(r -> registry.ca(r.newName()));
    }
}
