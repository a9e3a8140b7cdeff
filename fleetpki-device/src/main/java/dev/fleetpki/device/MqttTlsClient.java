package dev.fleetpki.device;

import dev.fleetpki.kms.SigningKey;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;

/**
 * The smallest MQTT 3.1.1 client a device needs to show its certificate works: mutual TLS with the
 * device key (file or token) and chain, the broker trusted only through the device's anchor and
 * checked against the broker's host name, CONNECT with the device id as client id, QoS 1 PUBLISH
 * (the broker's PUBACK confirms it took the message), DISCONNECT. A broker that refuses the device
 * (an unknown CA, a revoked certificate on its CRL) ends the TLS connection: that is a
 * {@link DeviceException} saying so.
 */
public final class MqttTlsClient implements AutoCloseable {
    private final SSLSocket socket;
    private final DataInputStream in;
    private final OutputStream out;
    private int nextId = 1;

    private MqttTlsClient(SSLSocket socket) throws IOException {
        this.socket = socket;
        this.in = new DataInputStream(socket.getInputStream());
        this.out = socket.getOutputStream();
    }

    /**
     * Connects to {@code address} expecting the broker's certificate to name {@code brokerName}.
     *
     * @throws DeviceException when TLS fails (either side refused) or the broker refuses the CONNECT
     */
    public static MqttTlsClient connect(InetSocketAddress address, String brokerName, DeviceIdentity device, Duration timeout) {
        List<X509Certificate> chain = device.chain().orElseThrow(() -> new DeviceException("this device has no certificate yet; enroll first"));
        return connect(address, brokerName, device.deviceId(), device.key(), chain, device.anchors(), timeout);
    }

    /** As above for a device held in memory (the fleet simulator's). */
    public static MqttTlsClient connect(InetSocketAddress address, String brokerName, String clientId, SigningKey key,
                                        List<X509Certificate> chain, X509Certificate anchor, Duration timeout) {
        return connect(address, brokerName, clientId, key, chain, List.of(anchor), timeout);
    }

    /** As above, trusting a broker that chains to any of {@code anchors}. */
    public static MqttTlsClient connect(InetSocketAddress address, String brokerName, String clientId, SigningKey key,
                                        List<X509Certificate> chain, java.util.Collection<X509Certificate> anchors, Duration timeout) {
        SSLSocket s = null;
        try {
            SSLContext ctx = EstClient.tls(anchors, EstClient.keyManager(key, chain));
            Socket plain = new Socket();
            try {
                plain.connect(address, (int) timeout.toMillis());
            } catch (IOException e) {
                plain.close();
                throw new DeviceException("cannot reach the broker " + brokerName + " at " + address + ": " + e.getMessage()
                        + " (is it running, and is this its address and port?)", e);
            }
            plain.setSoTimeout((int) timeout.toMillis());
            s = (SSLSocket) ctx.getSocketFactory().createSocket(plain, brokerName, address.getPort(), true);
            SSLParameters p = s.getSSLParameters();
            p.setEndpointIdentificationAlgorithm("HTTPS"); // the broker's certificate must name brokerName
            s.setSSLParameters(p);
            s.startHandshake();
            MqttTlsClient c = new MqttTlsClient(s);
            c.connectPacket(clientId);
            return c;
        } catch (SSLException e) {
            close(s);
            throw new DeviceException("TLS with the broker " + brokerName + " failed: " + e.getMessage(), e);
        } catch (IOException e) {
            close(s);
            throw new DeviceException("the broker " + brokerName + " at " + address + " ended the connection: " + e.getMessage()
                    + " (a broker that refuses the device's certificate, e.g. revoked on its CRL, closes it this way)", e);
        }
    }

    private static void close(Socket s) {
        if (s != null) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing after a failure
            }
        }
    }

    private void connectPacket(String clientId) throws IOException {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        writeString(body, "MQTT");
        body.write(4); // protocol level 3.1.1
        body.write(0x02); // clean session; the broker takes the user name from the certificate
        body.write(0);
        body.write(60); // keep alive, seconds
        writeString(body, clientId);
        send(0x10, body.toByteArray());
        int type = in.readUnsignedByte();
        int len = readLength();
        byte[] rest = in.readNBytes(len);
        if (type != 0x20 || rest.length != 2) {
            throw new DeviceException("the broker did not answer CONNECT with a CONNACK");
        }
        if (rest[1] != 0) {
            throw new DeviceException("the broker refused the connection (CONNACK return code " + rest[1] + ": "
                    + switch (rest[1]) {
                        case 2 -> "identifier rejected";
                        case 4 -> "bad user name or password";
                        case 5 -> "not authorized";
                        default -> "see MQTT 3.1.1 3.2.2.3";
                    } + ")");
        }
    }

    /** QoS 1: returns once the broker acknowledged the message. */
    public void publish(String topic, byte[] payload) {
        int id = nextId++ & 0xffff;
        try {
            ByteArrayOutputStream body = new ByteArrayOutputStream();
            writeString(body, topic);
            body.write(id >> 8);
            body.write(id & 0xff);
            body.write(payload);
            send(0x32, body.toByteArray());
            int type = in.readUnsignedByte();
            int len = readLength();
            byte[] rest = in.readNBytes(len);
            if (type != 0x40 || rest.length != 2 || ((rest[0] & 0xff) << 8 | (rest[1] & 0xff)) != id) {
                throw new DeviceException("the broker did not acknowledge the message to " + topic);
            }
        } catch (IOException e) {
            throw new DeviceException("publishing to " + topic + " failed: " + e.getMessage(), e);
        }
    }

    private void send(int header, byte[] body) throws IOException {
        ByteArrayOutputStream p = new ByteArrayOutputStream();
        p.write(header);
        int len = body.length;
        do { // MQTT variable-length "remaining length"
            int b = len % 128;
            len /= 128;
            p.write(len > 0 ? b | 0x80 : b);
        } while (len > 0);
        p.write(body);
        out.write(p.toByteArray());
        out.flush();
    }

    private int readLength() throws IOException {
        int value = 0;
        for (int shift = 0; shift < 28; shift += 7) {
            int b = in.readUnsignedByte();
            value |= (b & 0x7f) << shift;
            if ((b & 0x80) == 0) {
                return value;
            }
        }
        throw new IOException("malformed MQTT length");
    }

    private static void writeString(ByteArrayOutputStream b, String s) {
        byte[] u = s.getBytes(StandardCharsets.UTF_8);
        b.write(u.length >> 8);
        b.write(u.length & 0xff);
        b.writeBytes(u);
    }

    @Override
    public void close() {
        try {
            send(0xE0, new byte[0]);
        } catch (IOException ignored) {
            // the connection is going anyway
        }
        close(socket);
    }
}
