package dev.fleetpki.device;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.cert.CertStore;
import java.security.cert.CertificateFactory;
import java.security.cert.CollectionCertStoreParameters;
import java.security.cert.PKIXBuilderParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509CRL;
import java.security.cert.X509CertSelector;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import javax.net.ssl.CertPathTrustManagerParameters;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

/**
 * Device-to-device mutual TLS (certificates from the {@code device-peer} profile: clientAuth and
 * serverAuth): each side presents its own chain, and accepts the other's only if it chains to the
 * fleet's anchor and nothing on the path is revoked according to the fleet's CRLs (RFC 5280 path
 * validation with revocation, from the CRLs the device holds: {@code fleetpki crl export --bundle}
 * or fetched from the CRL URLs). A device without current CRLs refuses rather than guessing.
 */
public final class PeerTls {
    private PeerTls() {}

    /** An SSLContext for either side of a device-to-device connection. */
    public static SSLContext context(DeviceIdentity me, Collection<X509CRL> crls) {
        List<X509Certificate> chain = me.chain().orElseThrow(() -> new DeviceException("this device has no certificate yet; enroll first"));
        try {
            Set<TrustAnchor> trusted = new java.util.HashSet<>();
            me.anchors().forEach(a -> trusted.add(new TrustAnchor(a, null)));
            PKIXBuilderParameters params = new PKIXBuilderParameters(trusted, new X509CertSelector());
            params.setRevocationEnabled(true); // every certificate on the peer's path is looked up in the CRLs
            params.addCertStore(CertStore.getInstance("Collection", new CollectionCertStoreParameters(List.copyOf(crls))));
            TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
            tmf.init(new CertPathTrustManagerParameters(params));
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(new KeyManager[] {EstClient.keyManager(me.key(), chain)}, tmf.getTrustManagers(), null);
            return ctx;
        } catch (GeneralSecurityException e) {
            throw new DeviceException("cannot set up device-to-device TLS: " + e.getMessage(), e);
        }
    }

    /** The CRLs in a PEM bundle (what {@code fleetpki crl export --bundle} writes). */
    public static List<X509CRL> crls(Path pemBundle) {
        try (InputStream in = Files.newInputStream(pemBundle)) {
            List<X509CRL> out = new ArrayList<>();
            for (var c : CertificateFactory.getInstance("X.509").generateCRLs(in)) {
                out.add((X509CRL) c);
            }
            return out;
        } catch (IOException | GeneralSecurityException e) {
            throw new DeviceException("cannot read the CRLs in " + pemBundle + ": " + e.getMessage(), e);
        }
    }

    /** After the handshake: the peer's device id (its certificate's CN), which the caller compares with the one it meant to reach. */
    public static String peerId(SSLSocket socket) {
        try {
            return CertificateCheck.commonName((X509Certificate) socket.getSession().getPeerCertificates()[0]);
        } catch (SSLPeerUnverifiedException e) {
            throw new DeviceException("the peer presented no certificate", e);
        }
    }
}
