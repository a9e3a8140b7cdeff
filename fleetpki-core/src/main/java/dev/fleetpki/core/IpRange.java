package dev.fleetpki.core;

import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * An IPv4 or IPv6 address range in CIDR form ({@code 10.20.0.0/16}, {@code fd00::/8}, or one
 * address), for the IP addresses a server-TLS profile may put in a subjectAltName.
 */
public record IpRange(byte[] network, int prefix, String text) {

    /** Parses {@code ADDRESS[/PREFIX]}; only numeric addresses (no name lookups). */
    public static IpRange parse(String s) {
        String t = s == null ? "" : s.trim();
        int slash = t.indexOf('/');
        String addr = slash < 0 ? t : t.substring(0, slash);
        byte[] a = numeric(addr);
        if (a == null) {
            throw new IllegalArgumentException("'" + s + "' is not an IP range; write it as 10.20.0.0/16, fd00::/8 or one address");
        }
        int prefix = a.length * 8;
        if (slash >= 0) {
            try {
                prefix = Integer.parseInt(t.substring(slash + 1));
            } catch (NumberFormatException e) {
                prefix = -1;
            }
            if (prefix < 0 || prefix > a.length * 8) {
                throw new IllegalArgumentException("'" + s + "': the prefix length must be 0.." + a.length * 8);
            }
        }
        return new IpRange(a, prefix, t);
    }

    /** Whether this range holds the address (4 or 16 bytes, as a GeneralName iPAddress carries it). */
    public boolean contains(byte[] address) {
        if (address == null || address.length != network.length) {
            return false;
        }
        int full = prefix / 8;
        for (int i = 0; i < full; i++) {
            if (address[i] != network[i]) {
                return false;
            }
        }
        int rest = prefix % 8;
        if (rest == 0) {
            return true;
        }
        int mask = (0xff << (8 - rest)) & 0xff;
        return (address[full] & mask) == (network[full] & mask);
    }

    /** The bytes of a numeric IPv4 or IPv6 address, or null if it is not one. */
    static byte[] numeric(String addr) {
        if (addr.isEmpty() || !(addr.matches("[0-9.]+") || addr.contains(":") && addr.matches("[0-9a-fA-F:.]+"))) {
            return null;
        }
        try {
            return InetAddress.getByName(addr).getAddress(); // numeric: no lookup is made
        } catch (UnknownHostException e) {
            return null;
        }
    }

    @Override
    public String toString() {
        return text;
    }
}
