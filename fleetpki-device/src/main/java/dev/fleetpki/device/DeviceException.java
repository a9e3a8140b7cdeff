package dev.fleetpki.device;

/** Something the device could not do, said so a firmware engineer knows what to fix; nothing was changed. */
public final class DeviceException extends RuntimeException {
    public DeviceException(String message) {
        super(message);
    }

    public DeviceException(String message, Throwable cause) {
        super(message, cause);
    }
}
