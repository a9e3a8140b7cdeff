package dev.fleetpki.bench;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * The smallest HTTP/1.1 client the load program needs: one POST at a time on a socket the caller
 * opened (plain or TLS), the answer read by Content-Length or chunked encoding. Hand-written so
 * the load generator spends as little of the shared CPU as it can, and the same for both servers.
 */
final class MiniHttp implements AutoCloseable {
    record Response(int status, byte[] body, boolean close) {}

    private final Socket socket;
    private final OutputStream out;
    private final InputStream in;
    private final String host;

    MiniHttp(Socket socket, String host) throws IOException {
        this.socket = socket;
        this.out = socket.getOutputStream();
        this.in = new BufferedInputStream(socket.getInputStream(), 16 * 1024);
        this.host = host;
    }

    Response post(String path, String contentType, byte[] body, boolean close) throws IOException {
        return post(path, contentType, null, body, close);
    }

    /** With an Authorization header value (null: none). */
    Response post(String path, String contentType, String authorization, byte[] body, boolean close) throws IOException {
        String head = "POST " + path + " HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: " + contentType + "\r\nContent-Length: " + body.length
                + "\r\n" + (authorization == null ? "" : "Authorization: " + authorization + "\r\n") + (close ? "Connection: close\r\n" : "") + "\r\n";
        byte[] h = head.getBytes(StandardCharsets.ISO_8859_1);
        byte[] all = new byte[h.length + body.length];
        System.arraycopy(h, 0, all, 0, h.length);
        System.arraycopy(body, 0, all, h.length, body.length);
        out.write(all);
        out.flush();
        String status = line();
        if (status == null || !status.startsWith("HTTP/1.")) {
            throw new IOException("no HTTP answer (" + status + ")");
        }
        int code = Integer.parseInt(status.substring(9, 12));
        int length = -1;
        boolean chunked = false;
        boolean closing = close;
        for (String l = line(); l != null && !l.isEmpty(); l = line()) {
            String lower = l.toLowerCase(Locale.ROOT);
            if (lower.startsWith("content-length:")) {
                length = Integer.parseInt(l.substring(15).trim());
            } else if (lower.startsWith("transfer-encoding:") && lower.contains("chunked")) {
                chunked = true;
            } else if (lower.startsWith("connection:") && lower.contains("close")) {
                closing = true;
            }
        }
        byte[] payload;
        if (chunked) {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            for (int n = Integer.parseInt(line().trim().split(";")[0], 16); n > 0; n = Integer.parseInt(line().trim().split(";")[0], 16)) {
                b.write(in.readNBytes(n));
                line();
            }
            line();
            payload = b.toByteArray();
        } else if (length >= 0) {
            payload = in.readNBytes(length);
        } else {
            payload = in.readAllBytes();
            closing = true;
        }
        return new Response(code, payload, closing);
    }

    private String line() throws IOException {
        StringBuilder sb = new StringBuilder();
        for (int c = in.read(); c != -1; c = in.read()) {
            if (c == '\n') {
                int n = sb.length();
                return n > 0 && sb.charAt(n - 1) == '\r' ? sb.substring(0, n - 1) : sb.toString();
            }
            sb.append((char) c);
        }
        return sb.isEmpty() ? null : sb.toString();
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
