package dev.fleetpki.device;

import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.SigningKey;
import java.io.IOException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.Security;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedKeyManager;
import org.bouncycastle.asn1.ASN1Encodable;
import org.bouncycastle.asn1.ASN1Integer;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.ASN1Sequence;
import org.bouncycastle.asn1.ASN1Set;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cms.CMSException;
import org.bouncycastle.cms.CMSSignedData;

/**
 * The device's EST client (RFC 7030, with RFC 8951's base64 rules): {@code cacerts},
 * {@code csrattrs}, {@code simpleenroll} with a one-time secret (HTTP basic: user = device id) or
 * a TLS client certificate (a manufacturer IDevID or a factory station's), and
 * {@code simplereenroll} with the device's current certificate. The server is trusted only if its
 * TLS certificate chains to the anchor the device was given (and names the host), never by the
 * JDK's public CAs.
 */
public final class EstClient {
    /** An enrollment the server put before an operator: ask again after this many seconds. */
    public record Pending(int retryAfterSeconds, String message) {}

    /** What an enrollment request got: the certificates, or a pending answer. */
    public record Answer(List<X509Certificate> certificates, Optional<Pending> pending) {}

    private final URI base;
    private final List<X509Certificate> anchors;
    private final Duration timeout;

    /**
     * @param base the EST root, e.g. {@code https://pki.example:8443/.well-known/est} (or with a
     *             label: {@code .../est/device-peer})
     */
    public EstClient(URI base, X509Certificate anchor, Duration timeout) {
        this(base, List.of(anchor), timeout);
    }

    /** As above, trusting servers that chain to any of {@code anchors} (a device's, with the roots it learned: {@link DeviceIdentity#anchors()}). */
    public EstClient(URI base, Collection<X509Certificate> anchors, Duration timeout) {
        String s = base.toString();
        this.base = URI.create(s.endsWith("/") ? s.substring(0, s.length() - 1) : s);
        this.anchors = List.copyOf(anchors);
        this.timeout = timeout;
    }

    /** The CA certificates for this label (no authentication). */
    public List<X509Certificate> cacerts() {
        HttpResponse<byte[]> r = send(client(null), HttpRequest.newBuilder(uri("/cacerts")).GET());
        expectOk(r, "cacerts");
        return certsOnly(r.body());
    }

    /**
     * The object identifiers the server's csrattrs names (key type, curve, signature algorithm),
     * empty when it has no opinion (204/404).
     */
    public List<String> csrattrs() {
        HttpResponse<byte[]> r = send(client(null), HttpRequest.newBuilder(uri("/csrattrs")).GET());
        if (r.statusCode() == 204 || r.statusCode() == 404) {
            return List.of();
        }
        expectOk(r, "csrattrs");
        List<String> oids = new ArrayList<>();
        try {
            collect(ASN1Sequence.getInstance(base64(r.body())), oids);
        } catch (RuntimeException e) {
            throw new DeviceException("the server's csrattrs is not a CsrAttrs structure: " + e.getMessage(), e);
        }
        return oids;
    }

    /**
     * The key the server's csrattrs asks for (RFC 7030 4.5.2 style: an id-ecPublicKey attribute
     * naming the curve, rsaEncryption with the size, or the bare algorithm OID), so the device
     * makes the right key before it writes its CSR; empty when the server names none this SDK makes.
     */
    public Optional<KeyAlgorithm> keyAlgorithm() {
        HttpResponse<byte[]> r = send(client(null), HttpRequest.newBuilder(uri("/csrattrs")).GET());
        if (r.statusCode() == 204 || r.statusCode() == 404) {
            return Optional.empty();
        }
        expectOk(r, "csrattrs");
        try {
            return keyAlgorithm(ASN1Sequence.getInstance(base64(r.body())));
        } catch (RuntimeException e) {
            throw new DeviceException("the server's csrattrs is not a CsrAttrs structure: " + e.getMessage(), e);
        }
    }

    static Optional<KeyAlgorithm> keyAlgorithm(ASN1Sequence attrs) {
        for (ASN1Encodable e : attrs) {
            if (e instanceof ASN1ObjectIdentifier oid) {
                switch (oid.getId()) {
                    case "1.3.101.112" -> { return Optional.of(KeyAlgorithm.ED25519); }
                    case "2.16.840.1.101.3.4.3.18" -> { return Optional.of(KeyAlgorithm.ML_DSA_65); }
                    default -> { } // a signature algorithm: goes with the key named elsewhere
                }
            } else if (e instanceof ASN1Sequence attr && attr.size() == 2 && attr.getObjectAt(0) instanceof ASN1ObjectIdentifier type
                    && attr.getObjectAt(1) instanceof ASN1Set values && values.size() > 0) {
                var v = values.getObjectAt(0);
                if (type.getId().equals("1.2.840.10045.2.1") && v instanceof ASN1ObjectIdentifier curve) {
                    switch (curve.getId()) {
                        case "1.2.840.10045.3.1.7" -> { return Optional.of(KeyAlgorithm.EC_P256); }
                        case "1.3.132.0.34" -> { return Optional.of(KeyAlgorithm.EC_P384); }
                        default -> { }
                    }
                } else if (type.getId().equals("1.2.840.113549.1.1.1") && v instanceof ASN1Integer bits) {
                    switch (bits.intValueExact()) {
                        case 2048 -> { return Optional.of(KeyAlgorithm.RSA_2048); }
                        case 3072 -> { return Optional.of(KeyAlgorithm.RSA_3072); }
                        case 4096 -> { return Optional.of(KeyAlgorithm.RSA_4096); }
                        default -> { }
                    }
                }
            }
        }
        return Optional.empty();
    }

    private static void collect(ASN1Encodable e, List<String> out) {
        if (e instanceof ASN1ObjectIdentifier oid) {
            out.add(oid.getId());
        } else if (e instanceof ASN1Sequence seq) {
            seq.forEach(x -> collect(x, out));
        } else if (e instanceof ASN1Set set) {
            set.forEach(x -> collect(x, out));
        }
    }

    /** {@code simpleenroll} with a one-time enrollment secret (HTTP basic, user = device id). */
    public Answer simpleenroll(byte[] csrDer, String deviceId, char[] secret) {
        String basic = Base64.getEncoder().encodeToString((deviceId + ":" + new String(secret)).getBytes(StandardCharsets.UTF_8));
        return enroll("/simpleenroll", csrDer, client(null), "Basic " + basic);
    }

    /** {@code simpleenroll} authenticated by a TLS client certificate (manufacturer IDevID, factory station). */
    public Answer simpleenroll(byte[] csrDer, SigningKey tlsKey, List<X509Certificate> tlsChain) {
        return enroll("/simpleenroll", csrDer, client(keyManager(tlsKey, tlsChain)), null);
    }

    /** {@code simplereenroll}: the device's current certificate and key authenticate the TLS connection. */
    public Answer simplereenroll(byte[] csrDer, SigningKey currentKey, List<X509Certificate> currentChain) {
        return enroll("/simplereenroll", csrDer, client(keyManager(currentKey, currentChain)), null);
    }

    /**
     * JSSE finds a signer for the client's CertificateVerify among the registered providers only,
     * so a token key's provider (a SunPKCS11 instance made for that token) is registered first;
     * without it the TLS handshake fails with "No supported CertificateVerify signature algorithm".
     */
    static X509ExtendedKeyManager keyManager(SigningKey key, List<X509Certificate> chain) {
        Provider p = key.provider();
        if (p != null) {
            synchronized (EstClient.class) {
                if (Security.getProvider(p.getName()) == null) {
                    Security.addProvider(p);
                }
            }
        }
        return new FixedKeyManager(key.handle(), chain);
    }

    private Answer enroll(String path, byte[] csrDer, HttpClient client, String authorization) {
        byte[] body = Base64.getMimeEncoder().encode(csrDer);
        HttpRequest.Builder b = HttpRequest.newBuilder(uri(path)).header("Content-Type", "application/pkcs10")
                .header("Content-Transfer-Encoding", "base64").POST(HttpRequest.BodyPublishers.ofByteArray(body));
        if (authorization != null) {
            b.header("Authorization", authorization);
        }
        HttpResponse<byte[]> r = send(client, b);
        if (r.statusCode() == 202) {
            int after = r.headers().firstValue("Retry-After").map(v -> {
                try {
                    return Integer.parseInt(v.trim());
                } catch (NumberFormatException e) {
                    return 60;
                }
            }).orElse(60);
            return new Answer(List.of(), Optional.of(new Pending(after, text(r))));
        }
        expectOk(r, path.substring(1));
        return new Answer(certsOnly(r.body()), Optional.empty());
    }

    private URI uri(String path) {
        return URI.create(base + path);
    }

    private HttpClient client(X509ExtendedKeyManager km) {
        return HttpClient.newBuilder().sslContext(tls(anchors, km)).connectTimeout(timeout).build();
    }

    /** An HTTP client that trusts only servers chaining to {@code anchor}, presenting {@code km}'s key when asked (null: none). */
    static HttpClient httpClient(X509Certificate anchor, X509ExtendedKeyManager km, Duration timeout) {
        return HttpClient.newBuilder().sslContext(tls(anchor, km)).connectTimeout(timeout).build();
    }

    /** TLS that trusts only peers chaining to {@code anchor} (never the JDK's public CAs) and presents {@code km}'s key (null: none). */
    static SSLContext tls(X509Certificate anchor, X509ExtendedKeyManager km) {
        return tls(List.of(anchor), km);
    }

    /** As above with several anchors (an HTTPS API whose certificate comes from another CA than the fleet's). */
    static SSLContext tls(Collection<X509Certificate> anchors, X509ExtendedKeyManager km) {
        if (anchors.isEmpty()) {
            throw new DeviceException("no trust anchor to check the server's certificate against");
        }
        try {
            KeyStore trust = KeyStore.getInstance("PKCS12");
            trust.load(null, null);
            int i = 0;
            for (X509Certificate a : anchors) {
                trust.setCertificateEntry("anchor-" + i++, a);
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
            tmf.init(trust);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(km == null ? null : new KeyManager[] {km}, tmf.getTrustManagers(), null);
            return ctx;
        } catch (GeneralSecurityException | IOException e) {
            throw new DeviceException("cannot set up TLS with the trust anchor: " + e.getMessage(), e);
        }
    }

    private HttpResponse<byte[]> send(HttpClient client, HttpRequest.Builder b) {
        try {
            return client.send(b.timeout(timeout).build(), HttpResponse.BodyHandlers.ofByteArray());
        } catch (SSLHandshakeException e) {
            throw new DeviceException("TLS with " + base.getHost() + " failed: " + e.getMessage()
                    + " (is the server's certificate from this fleet's CA, for this host name?)", e);
        } catch (IOException e) {
            throw new DeviceException("cannot reach " + base + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DeviceException("interrupted while talking to " + base, e);
        }
    }

    private static final Pattern DETAIL = Pattern.compile("\"detail\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"");

    private static void expectOk(HttpResponse<byte[]> r, String what) {
        if (r.statusCode() != 200) {
            String body = text(r).strip();
            var m = DETAIL.matcher(body); // an RFC 9457 problem: its detail says what to do
            throw new DeviceException("EST " + what + " answered HTTP " + r.statusCode() + ": " + (m.find() ? m.group(1).replace("\\\"", "\"") : body));
        }
    }

    private static String text(HttpResponse<byte[]> r) {
        String t = new String(r.body(), StandardCharsets.UTF_8);
        return t.length() > 500 ? t.substring(0, 500) + "..." : t;
    }

    private static byte[] base64(byte[] body) {
        try {
            return Base64.getMimeDecoder().decode(body);
        } catch (IllegalArgumentException e) {
            throw new DeviceException("the server's answer is not base64 (RFC 8951): " + e.getMessage(), e);
        }
    }

    /** A certs-only CMS SignedData, base64 (RFC 8951). */
    static List<X509Certificate> certsOnly(byte[] body) {
        try {
            CMSSignedData cms = new CMSSignedData(base64(body));
            JcaX509CertificateConverter conv = new JcaX509CertificateConverter();
            List<X509Certificate> out = new ArrayList<>();
            for (X509CertificateHolder h : cms.getCertificates().getMatches(null)) {
                out.add(conv.getCertificate(h));
            }
            return out;
        } catch (CMSException | CertificateException | RuntimeException e) {
            throw new DeviceException("the server's answer is not a certs-only CMS: " + e.getMessage(), e);
        }
    }

    /** Presents one key and chain, as client or (device to device) as server: the device has one identity. */
    private static final class FixedKeyManager extends X509ExtendedKeyManager {
        private final PrivateKey key;
        private final X509Certificate[] chain;

        FixedKeyManager(PrivateKey key, List<X509Certificate> chain) {
            this.key = key;
            this.chain = chain.toArray(new X509Certificate[0]);
        }

        @Override
        public String[] getClientAliases(String keyType, Principal[] issuers) {
            return new String[] {"device"};
        }

        @Override
        public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
            return "device";
        }

        @Override
        public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine engine) {
            return "device";
        }

        /** As a server JSSE asks per key type ("EC", "RSA", "EdDSA" ...): only the device key's own type gets the alias. */
        private String serverAlias(String keyType) {
            return keyType == null || keyType.equalsIgnoreCase(key.getAlgorithm()) ? "device" : null;
        }

        @Override
        public String[] getServerAliases(String keyType, Principal[] issuers) {
            String a = serverAlias(keyType);
            return a == null ? null : new String[] {a};
        }

        @Override
        public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
            return serverAlias(keyType);
        }

        @Override
        public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
            return serverAlias(keyType);
        }

        @Override
        public X509Certificate[] getCertificateChain(String alias) {
            return chain.clone();
        }

        @Override
        public PrivateKey getPrivateKey(String alias) {
            return key;
        }
    }
}
