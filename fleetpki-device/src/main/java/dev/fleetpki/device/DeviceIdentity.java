package dev.fleetpki.device;

import dev.fleetpki.kms.DefaultKeyManager;
import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.KeyRef;
import dev.fleetpki.kms.KeyStoreFailure;
import dev.fleetpki.kms.Pem;
import dev.fleetpki.kms.SecretSource;
import dev.fleetpki.kms.SigningKey;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.PublicKey;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;

/**
 * One device's identity in a folder: its key (an encrypted PKCS#8 file in the folder, or a
 * PKCS#11 token object, as the key reference says; the key is made there and never leaves it), the
 * trust anchor it was given, and its current certificate chain ({@code chain.pem}). A chain is
 * installed only after {@link CertificateCheck} accepts it, and replaces the old one by an atomic
 * rename, so a refused answer or a failure mid-renewal leaves the device with its old, usable
 * certificate.
 */
public final class DeviceIdentity {
    static final String CHAIN = "chain.pem";
    /** The reference of the device's current key (it changes when a renewal makes a new key). */
    static final String KEY_REF = "key.ref";
    /**
     * The rekey journal: written before a rekeying renewal makes its new key ({@code new=} and
     * {@code old=} key references), completed with the new public key's SHA-256 ({@code newKey=})
     * once the key exists and before it is sent anywhere, removed once the switch is complete or
     * abandoned. Opening a device with a journal finishes what a crash interrupted (see {@link #open}).
     */
    static final String REKEY_JOURNAL = "rekey.pending";
    /** Roots learned during a root rollover through a cross certificate from an anchor the device trusts ({@link AnchorUpdate}). */
    static final String LEARNED_ANCHORS = "learned-anchors.pem";

    /** What an enrollment or renewal ended with. */
    public record Result(List<X509Certificate> chain, Optional<EstClient.Pending> pending) {
        public boolean issued() {
            return pending.isEmpty();
        }
    }

    private final Path dir;
    private final String deviceId;
    private final X509Certificate anchor;
    private final DefaultKeyManager keys;
    private final SecretSource passphrase;
    private SigningKey key;

    private volatile List<X509Certificate> learned;

    private DeviceIdentity(Path dir, String deviceId, SigningKey key, X509Certificate anchor, DefaultKeyManager keys, SecretSource passphrase) {
        this.dir = dir;
        this.deviceId = deviceId;
        this.key = key;
        this.anchor = anchor;
        this.keys = keys;
        this.passphrase = passphrase;
        this.learned = readCertificates(dir.resolve(LEARNED_ANCHORS));
    }

    /**
     * Makes the device's key where {@code ref} says ({@code file:device.p8}, relative to the folder,
     * encrypted with {@code passphrase}; or a {@code pkcs11:} URI, generated on the token as
     * non-extractable) and refuses to overwrite an existing one.
     */
    public static DeviceIdentity create(Path dir, String deviceId, KeyRef ref, KeyAlgorithm algorithm, SecretSource passphrase, X509Certificate anchor) {
        try {
            Files.createDirectories(dir);
            DefaultKeyManager keys = new DefaultKeyManager(dir);
            SigningKey k = keys.create(ref, algorithm, passphrase);
            writeAtomically(dir, KEY_REF, ref.uri() + "\n");
            return new DeviceIdentity(dir, deviceId, k, anchor, keys, passphrase);
        } catch (KeyStoreFailure e) {
            throw new DeviceException("cannot make the device key at " + ref + ": " + e.getMessage(), e);
        } catch (IOException e) {
            throw new DeviceException("cannot create " + dir + ": " + e.getMessage(), e);
        }
    }

    /**
     * Opens a device made before with {@link #create}: its current key is the one {@code key.ref}
     * names. If a rekeying renewal was cut short (power loss, a killed process) its journal is
     * still there, and is settled first: when the installed certificate is for the new key, the
     * switch is completed (key.ref names the new key, the old one is destroyed); otherwise the new
     * key is destroyed and the device goes on with its old key and certificate. Either way the key
     * and the certificate the device opens with belong together.
     */
    public static DeviceIdentity open(Path dir, String deviceId, SecretSource passphrase, X509Certificate anchor) {
        if (!Files.exists(dir.resolve(KEY_REF))) {
            throw new DeviceException("no device in " + dir + " (" + KEY_REF + " is missing); make one first");
        }
        DefaultKeyManager keys = new DefaultKeyManager(dir);
        if (Files.exists(dir.resolve(REKEY_JOURNAL))) {
            settleRekey(dir, keys);
        }
        KeyRef ref;
        try {
            ref = KeyRef.parse(Files.readString(dir.resolve(KEY_REF)).strip());
        } catch (IOException e) {
            throw new DeviceException("cannot read " + dir.resolve(KEY_REF) + ": " + e.getMessage(), e);
        }
        try {
            return new DeviceIdentity(dir, deviceId, keys.open(ref, passphrase), anchor, keys, passphrase);
        } catch (KeyStoreFailure e) {
            throw new DeviceException("cannot open the device key at " + ref + ": " + e.getMessage(), e);
        }
    }

    /**
     * Finishes or undoes the rekey a journal records (see {@link #open}). The decision needs no
     * key and no passphrase: the switch is completed exactly when the installed certificate's public
     * key is the one the journal recorded for the new key; a wrong passphrase can then only fail the
     * open that follows, never cost the device the key its certificate is for.
     */
    private static void settleRekey(Path dir, DefaultKeyManager keys) {
        Map<String, String> j = new HashMap<>();
        try {
            for (String line : Files.readAllLines(dir.resolve(REKEY_JOURNAL), StandardCharsets.US_ASCII)) {
                int eq = line.indexOf('=');
                if (eq > 0) {
                    j.put(line.substring(0, eq), line.substring(eq + 1).strip());
                }
            }
        } catch (IOException e) {
            throw new DeviceException("cannot read the rekey journal " + dir.resolve(REKEY_JOURNAL) + ": " + e.getMessage(), e);
        }
        if (j.getOrDefault("new", "").isBlank() || j.getOrDefault("old", "").isBlank()) {
            throw new DeviceException("the rekey journal " + dir.resolve(REKEY_JOURNAL) + " is damaged (no new= or old= line); "
                    + "check which key " + CHAIN + " certifies and set " + KEY_REF + " to it, then delete the journal");
        }
        KeyRef newRef = KeyRef.parse(j.get("new"));
        KeyRef oldRef = KeyRef.parse(j.get("old"));
        byte[] installed = leafKey(dir);
        // no newKey= line: the crash came before the new key was complete, so nothing was ever asked for it
        String fresh = j.get("newKey");
        try {
            if (fresh != null && installed != null && fresh.equals(keyHash(installed))) {
                writeAtomically(dir, KEY_REF, newRef.uri() + "\n");
                keys.destroy(oldRef);
            } else {
                keys.destroy(newRef);
            }
            Files.deleteIfExists(dir.resolve(REKEY_JOURNAL));
        } catch (IOException | KeyStoreFailure e) {
            throw new DeviceException("cannot finish the interrupted rekey in " + dir + ": " + e.getMessage(), e);
        }
    }

    private static String keyHash(byte[] spki) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(spki));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The rekey journal's text: before the new key exists ({@code fresh} null), then with its public key's hash. */
    static String journal(KeyRef newRef, KeyRef oldRef, PublicKey fresh) {
        return "new=" + newRef.uri() + "\nold=" + oldRef.uri() + "\n" + (fresh == null ? "" : "newKey=" + keyHash(fresh.getEncoded()) + "\n");
    }

    private static byte[] leafKey(Path dir) {
        Path p = dir.resolve(CHAIN);
        if (!Files.exists(p)) {
            return null;
        }
        try (var in = Files.newInputStream(p)) {
            return CertificateFactory.getInstance("X.509").generateCertificate(in).getPublicKey().getEncoded();
        } catch (IOException | CertificateException e) {
            throw new DeviceException("cannot read " + p + ": " + e.getMessage(), e);
        }
    }

    private static void writeAtomically(Path dir, String name, String content) throws IOException {
        Path tmp = dir.resolve(name + ".new");
        Files.writeString(tmp, content, StandardCharsets.US_ASCII);
        Files.move(tmp, dir.resolve(name), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    public String deviceId() {
        return deviceId;
    }

    public SigningKey key() {
        return key;
    }

    /** The trust anchor this device was given out of band. */
    public X509Certificate anchor() {
        return anchor;
    }

    /**
     * What servers, brokers and peers must chain to: the anchor this device was given, then the
     * roots it learned through it during root rollovers ({@link #learnAnchors}).
     */
    public List<X509Certificate> anchors() {
        List<X509Certificate> all = new ArrayList<>();
        all.add(anchor);
        all.addAll(learned);
        return List.copyOf(all);
    }

    /**
     * Learns the roots among {@code offered} that a cross certificate offered beside them links to
     * an anchor this device trusts ({@link AnchorUpdate}); they are kept in {@code learned-anchors.pem}
     * (written beside, then renamed over) and trusted from then on. Anything not so linked is ignored.
     *
     * @return the roots learned now (empty when there was nothing new)
     */
    public synchronized List<X509Certificate> learnAnchors(java.util.Collection<X509Certificate> offered, Instant now) {
        List<X509Certificate> fresh = AnchorUpdate.learn(anchors(), offered, now);
        if (fresh.isEmpty()) {
            return fresh;
        }
        List<X509Certificate> all = new ArrayList<>(learned);
        all.addAll(fresh);
        StringBuilder pem = new StringBuilder();
        try {
            for (X509Certificate c : all) {
                pem.append(Pem.encode("CERTIFICATE", c.getEncoded()));
            }
            writeAtomically(dir, LEARNED_ANCHORS, pem.toString());
        } catch (IOException | CertificateEncodingException e) {
            throw new DeviceException("cannot store the learned anchors in " + dir + ": " + e.getMessage(), e);
        }
        learned = List.copyOf(all);
        return fresh;
    }

    /** Fetches the CA certificates ({@code cacerts}) and learns any new root they vouch for ({@link #learnAnchors}). */
    public List<X509Certificate> refreshAnchors(EstClient est, Clock clock) {
        return learnAnchors(est.cacerts(), clock.instant());
    }

    /** A PKCS#10 request for this device's key with CN = its id, signed by the key itself (proof of possession). */
    public byte[] csr() {
        return csr(key);
    }

    private byte[] csr(SigningKey k) {
        X500Name subject = new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.CN, deviceId).build();
        try {
            return new JcaPKCS10CertificationRequestBuilder(subject, k.publicKey()).build(k.contentSigner()).getEncoded();
        } catch (IOException e) {
            throw new DeviceException("cannot encode the CSR: " + e.getMessage(), e);
        }
    }

    /** The installed chain (leaf first), if the device has enrolled. */
    public Optional<List<X509Certificate>> chain() {
        Path p = dir.resolve(CHAIN);
        return Files.exists(p) ? Optional.of(readCertificates(p)) : Optional.empty();
    }

    /** The roots a device in {@code dir} learned (see {@link #learnAnchors}), without opening its key. */
    public static List<X509Certificate> learnedAnchors(Path dir) {
        return readCertificates(dir.resolve(LEARNED_ANCHORS));
    }

    /** The certificates of a PEM file, in order; none when it is not there. */
    private static List<X509Certificate> readCertificates(Path p) {
        if (!Files.exists(p)) {
            return List.of();
        }
        try (var in = Files.newInputStream(p)) {
            List<X509Certificate> out = new ArrayList<>();
            for (var c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                out.add((X509Certificate) c);
            }
            return out;
        } catch (IOException | CertificateException e) {
            throw new DeviceException("cannot read " + p + ": " + e.getMessage(), e);
        }
    }

    /**
     * Checks what the server sent ({@link CertificateCheck}) and, only if it passes, makes it the
     * device's chain: written beside the old one, then renamed over it.
     */
    public List<X509Certificate> install(List<X509Certificate> sent, Instant now) {
        return install(sent, key, now);
    }

    private List<X509Certificate> install(List<X509Certificate> sent, SigningKey forKey, Instant now) {
        List<X509Certificate> chain = CertificateCheck.verify(sent, forKey.publicKey(), deviceId, anchors(), now);
        StringBuilder pem = new StringBuilder();
        try {
            for (X509Certificate c : chain) {
                pem.append(Pem.encode("CERTIFICATE", c.getEncoded()));
            }
            writeAtomically(dir, CHAIN, pem.toString());
        } catch (IOException | CertificateEncodingException e) {
            throw new DeviceException("cannot store the new chain in " + dir + " (the old one stays): " + e.getMessage(), e);
        }
        return chain;
    }

    /** First enrollment with a one-time enrollment secret. */
    public Result enroll(EstClient est, char[] secret, Clock clock) {
        return finish(est, est.simpleenroll(csr(), deviceId, secret), clock);
    }

    /**
     * First enrollment authenticated by a certificate presented in the TLS handshake: the
     * manufacturer's IDevID of this device (its key typically in the secure element), or a factory
     * station's certificate when the line enrolls on the device's behalf. The certificate asked for
     * is still for this device's own key, named by its id.
     */
    public Result enroll(EstClient est, SigningKey credentialKey, List<X509Certificate> credentialChain, Clock clock) {
        return finish(est, est.simpleenroll(csr(), credentialKey, credentialChain), clock);
    }

    /**
     * Renewal over {@code simplereenroll}, authenticated by the current certificate and key. With
     * {@code rekey} the device first makes a new key beside the current one (same algorithm, same
     * store: a new file or token object) and asks for a certificate for it; only when that
     * certificate is installed does the new key become current, and the old key is then destroyed
     * (its file deleted, or its token object destroyed). If anything fails before that, the new key
     * is destroyed and the device keeps its current key and certificate. A journal
     * ({@code rekey.pending}) makes the switch safe against a crash at any point: {@link #open}
     * settles it.
     */
    public Result renew(EstClient est, Clock clock, boolean rekey) {
        List<X509Certificate> current = chain().orElseThrow(() -> new DeviceException("this device has no certificate to renew; enroll first"));
        if (!rekey) {
            return finish(est, est.simplereenroll(csr(), key, current), clock, key);
        }
        KeyRef oldRef = key.ref();
        String stamp = Long.toString(clock.millis(), 36);
        KeyRef newRef = oldRef.isFile()
                ? KeyRef.parse("file:" + withSuffix(oldRef.path().replaceAll("-r[0-9a-z]+(\\.[^.]*)?$", "$1"), "-r" + stamp))
                : KeyRef.parse(oldRef.uri().replaceFirst("object=([^;?]*?)(-r[0-9a-z]+)?(?=[;?]|$)", "object=$1-r" + stamp));
        try {
            writeAtomically(dir, REKEY_JOURNAL, journal(newRef, oldRef, null));
        } catch (IOException e) {
            throw new DeviceException("cannot write the rekey journal in " + dir + " (nothing changed): " + e.getMessage(), e);
        }
        SigningKey fresh;
        try {
            fresh = keys.create(newRef, key.algorithm(), passphrase);
            writeAtomically(dir, REKEY_JOURNAL, journal(newRef, oldRef, fresh.publicKey())); // before the CSR leaves the device
        } catch (KeyStoreFailure | IOException e) {
            abandon(newRef);
            throw new DeviceException("cannot make the new key at " + newRef + " (the current one stays): " + e.getMessage(), e);
        }
        Result r;
        try {
            r = finish(est, est.simplereenroll(csr(fresh), key, current), clock, fresh);
        } catch (RuntimeException e) { // nothing installed: the old key and certificate stay
            abandon(newRef);
            throw e;
        }
        if (!r.issued()) {
            abandon(newRef);
            return r;
        }
        // chain.pem now certifies the new key: from here on the switch only goes forward (open() completes it after a crash)
        key = fresh;
        try {
            writeAtomically(dir, KEY_REF, newRef.uri() + "\n");
            keys.destroy(oldRef);
            Files.delete(dir.resolve(REKEY_JOURNAL));
        } catch (IOException | KeyStoreFailure e) {
            throw new DeviceException("renewed, but cannot finish switching to the new key in " + dir + ": " + e.getMessage()
                    + " (opening the device again finishes it)", e);
        }
        return r;
    }

    /** Undoes a rekey that did not get its certificate: the new key is destroyed, the journal removed. */
    private void abandon(KeyRef newRef) {
        try {
            keys.destroy(newRef);
            Files.deleteIfExists(dir.resolve(REKEY_JOURNAL));
        } catch (IOException | KeyStoreFailure e) {
            // the journal stays, and the next open() destroys the new key: it certifies nothing
        }
    }

    private static String withSuffix(String path, String suffix) {
        int dot = path.lastIndexOf('.');
        return dot > path.lastIndexOf('/') && dot > 0 ? path.substring(0, dot) + suffix + path.substring(dot) : path + suffix;
    }

    /**
     * RFC 7030 answers an enrollment with the device's certificate alone; the CAs between it and
     * the anchor then come from {@code cacerts} (trusted only as far as path validation to the
     * anchor takes them).
     */
    private Result finish(EstClient est, EstClient.Answer a, Clock clock) {
        return finish(est, a, clock, key);
    }

    private Result finish(EstClient est, EstClient.Answer a, Clock clock, SigningKey forKey) {
        if (a.pending().isPresent()) {
            return new Result(chain().orElse(List.of()), a.pending());
        }
        List<X509Certificate> sent = new ArrayList<>(a.certificates());
        boolean issuerSent = sent.stream().anyMatch(c -> c.getBasicConstraints() >= 0);
        List<X509Certificate> trusted = anchors();
        if (!issuerSent && sent.stream().anyMatch(c -> trusted.stream().noneMatch(t -> t.getSubjectX500Principal().equals(c.getIssuerX500Principal())))) {
            List<X509Certificate> cacerts = est.cacerts();
            learnAnchors(cacerts, clock.instant()); // a certificate from a new root's hierarchy comes with the cross certificate to it
            sent.addAll(cacerts);
        }
        return new Result(install(sent, forKey, clock.instant()), Optional.empty());
    }

    /** Reads a PEM or DER certificate (the trust anchor a device is given out of band). */
    public static X509Certificate certificate(byte[] pemOrDer) {
        try {
            return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(new ByteArrayInputStream(pemOrDer));
        } catch (CertificateException e) {
            throw new DeviceException("not a certificate: " + e.getMessage(), e);
        }
    }
}
