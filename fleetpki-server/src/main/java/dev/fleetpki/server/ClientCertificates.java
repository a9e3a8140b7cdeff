package dev.fleetpki.server;

import io.javalin.http.Context;
import java.security.KeyStore;
import java.security.cert.CRL;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.Collection;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import org.eclipse.jetty.util.ssl.SslContextFactory;

/**
 * TLS client certificates. The server asks every client for a certificate but does not require
 * one (Jetty's "want" mode), and takes any chain at the handshake: the handshake still proves the
 * client holds the certificate's private key, and which chains are good depends on the route and
 * changes at run time (factory stations, operators, this CA's device certificates, manufacturer
 * CAs the operator imports), so {@link Credentials} decides per request. A route that needs a
 * certificate refuses a request without one (401).
 */
final class ClientCertificates {
    private ClientCertificates() {}

    /** Jetty's TLS context with a trust manager that defers the decision to the application. */
    static final class TlsContext extends SslContextFactory.Server {
        @Override
        protected TrustManager[] getTrustManagers(KeyStore trustStore, Collection<? extends CRL> crls) {
            return new TrustManager[] {new DeferToApplication()};
        }
    }

    private static final class DeferToApplication implements X509TrustManager {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {
            // decided per request by Credentials, which validates the chain for the credential it claims to be
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            throw new CertificateException("this trust manager is for client certificates only");
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0]; // no CA list in the CertificateRequest: the client may send any certificate
        }
    }

    /** The client's certificate chain from the TLS handshake, leaf first, or null. */
    static X509Certificate[] chain(Context ctx) {
        Object o = ctx.req().getAttribute("jakarta.servlet.request.X509Certificate");
        return o instanceof X509Certificate[] c && c.length > 0 ? c : null;
    }
}
