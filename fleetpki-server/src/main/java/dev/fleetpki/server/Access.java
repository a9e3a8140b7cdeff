package dev.fleetpki.server;

import dev.fleetpki.core.Role;

/**
 * Which roles may do what over HTTP, named once: the REST routes and the console's pages take their
 * roles from here, so a page cannot show what its API refuses. Admin may always (ApiAuth).
 */
final class Access {
    private Access() {}

    /** Read devices, certificates and requests. */
    static final Role[] READ = {Role.ISSUER, Role.AUDITOR, Role.APPROVER};
    /** Register, disable and enable devices, make secrets, revoke certificates. */
    static final Role[] ISSUE = {Role.ISSUER};
    /** Approve or reject a request kept for an operator. */
    static final Role[] DECIDE = {Role.ISSUER, Role.APPROVER};
    /** Read, verify and export the audit log. */
    static final Role[] AUDIT = {Role.AUDITOR};
    /** Revoke a CA or a firmware signer: admin alone. */
    static final Role[] ADMIN = {};
    /** Read the CAs' own details (public anyway: /api/v1/cas) in the console. */
    static final Role[] ANY_OPERATOR = {Role.ISSUER, Role.AUDITOR, Role.APPROVER, Role.FACTORY};
}
