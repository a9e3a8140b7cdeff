package dev.fleetpki.device;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;

/**
 * Mutual TLS to an HTTPS API (the fleet's back end: telemetry upload, configuration, firmware
 * metadata) with the device's certificate and key; the key stays where it is (a file key in
 * memory, a token key used through its handle). The API's certificate must chain to the anchors
 * given (by default the device's own fleet anchor, for an API whose certificate fleetpki issued
 * from the server-tls profile) and name the host in the URL; the JDK's public CAs are never
 * trusted implicitly.
 *
 * <p>A client holds the certificate it was made with: after a renewal, make a new one.
 */
public final class DeviceHttps {
    private final HttpClient client;
    private final Duration timeout;

    private DeviceHttps(HttpClient client, Duration timeout) {
        this.client = client;
        this.timeout = timeout;
    }

    /** For an API whose server certificate chains to the device's fleet anchor. */
    public static DeviceHttps of(DeviceIdentity device, Duration timeout) {
        return of(device, device.anchors(), timeout);
    }

    /** For an API whose server certificate chains to one of {@code serverAnchors} (e.g. the CA the back end buys its certificates from). */
    public static DeviceHttps of(DeviceIdentity device, Collection<X509Certificate> serverAnchors, Duration timeout) {
        List<X509Certificate> chain = device.chain().orElseThrow(() -> new DeviceException("this device has no certificate yet; enroll first"));
        SSLContext ctx = EstClient.tls(serverAnchors, EstClient.keyManager(device.key(), chain));
        return new DeviceHttps(HttpClient.newBuilder().sslContext(ctx).connectTimeout(timeout).build(), timeout);
    }

    /** An answer: status, content type and body (any status: a 403 from the API is the caller's to judge). */
    public record Response(int status, String contentType, byte[] body) {
        public String text() {
            return new String(body, StandardCharsets.UTF_8);
        }
    }

    /** GET {@code url}. */
    public Response get(URI url) {
        return send(HttpRequest.newBuilder(url).GET());
    }

    /** POST {@code body} as {@code contentType} to {@code url}. */
    public Response post(URI url, String contentType, byte[] body) {
        return send(HttpRequest.newBuilder(url).header("Content-Type", contentType).POST(HttpRequest.BodyPublishers.ofByteArray(body)));
    }

    private Response send(HttpRequest.Builder b) {
        HttpRequest req = b.timeout(timeout).build();
        try {
            HttpResponse<byte[]> r = client.send(req, HttpResponse.BodyHandlers.ofByteArray());
            return new Response(r.statusCode(), r.headers().firstValue("Content-Type").orElse(""), r.body());
        } catch (SSLHandshakeException e) {
            throw new DeviceException("TLS with " + req.uri().getHost() + " failed: " + e.getMessage()
                    + " (is the API's certificate from a trusted CA and for this host name? did it accept this device's certificate?)", e);
        } catch (IOException e) {
            throw new DeviceException("cannot talk to " + req.uri() + ": " + e
                    + " (an API that refuses the device's certificate, e.g. revoked on its CRL, may end the connection this way)", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DeviceException("interrupted while talking to " + req.uri(), e);
        }
    }
}
