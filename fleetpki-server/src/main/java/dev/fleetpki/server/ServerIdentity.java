package dev.fleetpki.server;

import dev.fleetpki.core.Actor;
import dev.fleetpki.core.AuditAction;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.Device;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.IssuanceRequest;
import dev.fleetpki.core.IssuedCertificate;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.StoredCertificate;
import dev.fleetpki.kms.Crypto;
import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.Pem;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.bouncycastle.asn1.pkcs.Pfx;
import org.bouncycastle.asn1.x509.GeneralName;

/**
 * The server's own TLS identity: an ECDSA P-256 key and a certificate fleetpki issues to itself
 * through the ordinary pipeline with the {@code server-tls} profile. The server is registered
 * like any server (device id = its host name, model {@code fleetpki-server}), so its certificate
 * is listed, audited and revocable like the others. Key and chain live in
 * {@code server/tls.p12} under the CA home, encrypted with the issuing CA's passphrase source, and
 * are replaced when a third of their life is left, the host name changed, the certificate was
 * revoked, or the file is protected with fewer PBKDF2 iterations than fleetpki now uses (it wrote
 * 10,000 before): checked at start and, by {@link FleetServer#watchIdentity}, while it runs.
 */
public final class ServerIdentity {
    public static final String FILE = "server/tls.p12";
    static final String ALIAS = "server";

    /** A key store holding the key and chain under {@link #ALIAS}, and its password. */
    public record Loaded(KeyStore keyStore, char[] password, X509Certificate certificate, boolean issued) {}

    private ServerIdentity() {}

    /** @param actor who starts the server: the certificate, if one is issued, is audited as issued by them */
    public static Loaded ensure(Services s, String hostname, Actor actor) {
        if (s.config().profile("server-tls").isEmpty()) {
            throw new PkiException(ErrorKind.CONFIG, "fleetpki.yaml has no 'server-tls' profile; add one (profiles: {server-tls: {validity: 90d}}) "
                    + "so the server can issue its own TLS certificate, or pass --tls-keystore");
        }
        char[] password = s.config().issuing().getFirst().passphrase().read();
        Path file = s.config().home().resolve(FILE);
        Crypto.init(); // the PKCS#12 work factors
        if (Files.exists(file)) {
            try (InputStream in = Files.newInputStream(file)) {
                byte[] bytes = in.readAllBytes();
                KeyStore ks = KeyStore.getInstance("PKCS12");
                ks.load(new ByteArrayInputStream(bytes), password);
                X509Certificate c = (X509Certificate) ks.getCertificate(ALIAS);
                if (c != null && fresh(c, s.clock().instant()) && namesHost(c, hostname) && !revoked(s, c) && strong(bytes)) {
                    return new Loaded(ks, password, c, false);
                }
            } catch (Exception e) {
                throw new PkiException(ErrorKind.CONFIG, "cannot open the server's TLS key store " + file + " (" + e.getMessage()
                        + "); move it away to have a new one issued", e);
            }
        }
        return issue(s, hostname, password, file, actor);
    }

    /**
     * Whether a loaded identity is still good to serve (fresh, for this host name, not revoked),
     * checked in memory and with one store read: what the running server asks every minute, so the
     * key store (600,000 PBKDF2 iterations) is only read again when a new certificate is due.
     */
    static boolean stillGood(Services s, Loaded current, String hostname) {
        X509Certificate c = current.certificate();
        return fresh(c, s.clock().instant()) && namesHost(c, hostname) && !revoked(s, c);
    }

    private static boolean revoked(Services s, X509Certificate c) {
        return s.certificates().certificate(c.getSerialNumber().toString(16)).map(StoredCertificate::revoked).orElse(false);
    }

    /** Whether the PKCS#12 file's MAC uses at least fleetpki's PBKDF2 work factor (files written before used the JDK's 10,000). */
    static boolean strong(byte[] pkcs12) {
        var mac = Pfx.getInstance(pkcs12).getMacData();
        return mac != null && mac.getIterationCount().intValue() >= Crypto.PKCS12_ITERATIONS;
    }

    /** The certificate's CN is exactly this host name (not merely a name starting with it). */
    static boolean namesHost(X509Certificate c, String hostname) {
        String dn = c.getSubjectX500Principal().getName();
        String cn = "CN=" + hostname;
        return dn.equalsIgnoreCase(cn) || dn.regionMatches(true, 0, cn + ",", 0, cn.length() + 1) || dn.toLowerCase(Locale.ROOT).endsWith("," + cn.toLowerCase(Locale.ROOT));
    }

    private static boolean fresh(X509Certificate c, Instant now) {
        Instant from = c.getNotBefore().toInstant();
        Instant to = c.getNotAfter().toInstant();
        return now.isBefore(to.minus(Duration.between(from, to).dividedBy(3)));
    }

    private static Loaded issue(Services s, String hostname, char[] password, Path file, Actor actor) {
        Instant now = s.clock().instant();
        if (s.devices().deviceNow(hostname).isEmpty()) {
            s.devices().addDevice(new Device(hostname, Device.SERVER_MODEL, Map.of("role", "server"), Device.Status.ACTIVE, "software: " + FILE, now),
                    new AuditEvent(now, actor, AuditAction.DEVICE_ADD, "device:" + hostname, Map.of("model", Device.SERVER_MODEL)));
        }
        KeyPair kp = KeyAlgorithm.EC_P256.generate();
        List<GeneralName> sans = new ArrayList<>();
        if (isIp(hostname)) {
            sans.add(new GeneralName(GeneralName.iPAddress, hostname));
        } else {
            sans.add(new GeneralName(GeneralName.dNSName, hostname));
            sans.add(new GeneralName(GeneralName.iPAddress, "127.0.0.1"));
        }
        // the server made the key itself, so it holds the proof of possession a CSR would carry
        IssuedCertificate issued;
        try {
            issued = s.pipeline().issue(new IssuanceRequest(hostname, "server-tls", kp.getPublic(), hostname, sans, true,
                    "serve", null, null), s.authorizer().operator(actor, hostname, "server-tls", "serve"));
        } catch (dev.fleetpki.core.PkiException e) {
            if (e.kind() != dev.fleetpki.core.ErrorKind.NAME_MISMATCH) {
                throw e;
            }
            throw new dev.fleetpki.core.PkiException(e.kind(), "the server's own certificate for '" + hostname + "' is refused: " + e.detail()
                    + ". Start it with the name clients use: fleetpki serve --hostname NAME (a name the server-tls profile allows), "
                    + "or widen the profile's dnsSuffixes in fleetpki.yaml", e);
        }
        List<Certificate> chain = new ArrayList<>();
        chain.add(issued.certificate());
        // during a root rollover, the new root's cross certificate in its place: devices that trust only the old root still connect
        chain.addAll(dev.fleetpki.core.CaRollover.bridged(s.caRecords(), s.cas().chainFrom(s.caRecords().ca(issued.caName()).orElseThrow())));
        try {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setKeyEntry(ALIAS, kp.getPrivate(), password, chain.toArray(new Certificate[0]));
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ks.store(out, password);
            Files.createDirectories(file.getParent());
            Pem.writePrivateFile(file, out.toByteArray());
            return new Loaded(ks, password, issued.certificate(), true);
        } catch (Exception e) {
            throw new PkiException(ErrorKind.INTERNAL, "cannot write the server's TLS key store " + file + ": " + e.getMessage(), e);
        }
    }

    private static boolean isIp(String host) {
        if (!host.matches("[0-9.]+|[0-9a-fA-F:]+")) {
            return false;
        }
        try {
            InetAddress.getByName(host);
            return true;
        } catch (Exception e) {
            return false;
        }
    }
}
