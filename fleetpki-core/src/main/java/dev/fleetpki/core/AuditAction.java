package dev.fleetpki.core;

/**
 * What an audit event records, as a closed set: a new kind of event is a new constant here, so a
 * typo cannot start a new kind and a reader of the log knows every kind there is. The wire name
 * ({@code certificate.issue}) is what the log stores and hashes; it never changes for a constant.
 */
public enum AuditAction {
    /** The ceremony made a CA. */
    CA_CREATE("ca.create"),
    /** A CA certificate imported (an offline root's, a signed issuing CA's). */
    CA_IMPORT("ca.import"),
    /** A step of a CA rollover (fleetpki ca rollover): the step, the old and the new CA in the detail. */
    CA_ROLLOVER("ca.rollover"),
    /** A CA of this store signed a subordinate CA whose key lives elsewhere. */
    CA_SIGN_SUBORDINATE("ca.sign-subordinate"),
    /** A subordinate CA (or the OCSP signer) revoked. */
    CA_REVOKE("ca.revoke"),
    /** A certificate issued. */
    CERTIFICATE_ISSUE("certificate.issue"),
    /** An issuance refused (its kind and reason in the detail). */
    CERTIFICATE_REFUSE("certificate.refuse"),
    /** A certificate revoked. */
    CERTIFICATE_REVOKE("certificate.revoke"),
    /** A CRL generation run. */
    CRL_GENERATE("crl.generate"),
    /** A CRL signed elsewhere (the offline root's) imported. */
    CRL_IMPORT("crl.import"),
    /** A device registered. */
    DEVICE_ADD("device.add"),
    /** A device disabled. */
    DEVICE_DISABLE("device.disable"),
    /** A device enabled again. */
    DEVICE_ENABLE("device.enable"),
    /** A device and its certificates revoked. */
    DEVICE_REVOKE("device.revoke"),
    /** A one-time enrollment secret made for a device. */
    DEVICE_SECRET("device.secret"),
    /** An enrollment request stored. */
    REQUEST_ADD("request.add"),
    /** An enrollment request kept for an operator. */
    REQUEST_PENDING("request.pending"),
    /** A pending request rejected. */
    REQUEST_REJECT("request.reject"),
    /** An offline station's journal synced into this store (station, CA, entries taken, already here, conflicts in the detail). */
    FACTORY_SYNC("factory.sync"),
    /** A firmware image signed (signer, model, image digest in the detail). */
    FIRMWARE_SIGN("firmware.sign"),
    /** A firmware signature refused (its kind and reason in the detail). */
    FIRMWARE_REFUSE("firmware.refuse"),
    /** A firmware signer revoked, with every certificate it held. */
    SIGNER_REVOKE("signer.revoke"),
    /** A console operator account made (name and role in the detail; never the password). */
    OPERATOR_ADD("operator.add"),
    /** A console operator disabled (their sessions end). */
    OPERATOR_DISABLE("operator.disable"),
    /** A console operator enabled again. */
    OPERATOR_ENABLE("operator.enable"),
    /** A console operator's password set anew (their sessions end). */
    OPERATOR_PASSWORD("operator.password"),
    /** A console operator locked out after repeated failed sign-ins. */
    OPERATOR_LOCK("operator.lock"),
    /** A locked-out console operator unlocked by an administrator. */
    OPERATOR_UNLOCK("operator.unlock"),
    /** An operator signed in to the console (how: password or client certificate). */
    CONSOLE_SIGN_IN("console.sign-in"),
    /** A console sign-in refused (the reason in the detail, never the password). */
    CONSOLE_SIGN_IN_REFUSE("console.sign-in-refuse"),
    /** An operator signed out of the console. */
    CONSOLE_SIGN_OUT("console.sign-out"),
    /** A first operator's approval of an action that needs a second (dualControl): recorded, nothing done. */
    DUAL_CONTROL_FIRST("dual-control.first"),
    /** A second operator confirmed an action a first one approved; the action's own event follows or precedes it. */
    DUAL_CONTROL_SECOND("dual-control.second"),
    /** A factory station registered. */
    STATION_ADD("station.add"),
    /** A factory station disabled. */
    STATION_DISABLE("station.disable"),
    /** A factory station enabled again. */
    STATION_ENABLE("station.enable"),
    /** A backup of the store written (the file, the head it holds; docs/backup.md). */
    STORE_BACKUP("store.backup"),
    /** A store restored from a backup: the first event after the backup's head (what the restore skipped and ended in the detail). */
    STORE_RESTORE("store.restore"),
    /** An API token made. */
    TOKEN_CREATE("token.create"),
    /** An API token disabled. */
    TOKEN_DISABLE("token.disable"),
    /** An API token enabled again. */
    TOKEN_ENABLE("token.enable"),
    /** An API token revoked. */
    TOKEN_REVOKE("token.revoke"),
    /** A manufacturer (IDevID) CA trusted. */
    TRUST_ADD_MANUFACTURER("trust.add-manufacturer"),
    /** A manufacturer CA no longer trusted. */
    TRUST_REMOVE("trust.remove");

    private final String wireName;

    AuditAction(String wireName) {
        this.wireName = wireName;
    }

    /** The name the audit log stores (and the chain hash covers). */
    public String wireName() {
        return wireName;
    }

    /** The action of a stored wire name. */
    public static AuditAction parse(String wireName) {
        for (AuditAction a : values()) {
            if (a.wireName.equals(wireName)) {
                return a;
            }
        }
        throw new IllegalArgumentException("'" + wireName + "' is not an audit action");
    }

    @Override
    public String toString() {
        return wireName;
    }
}
