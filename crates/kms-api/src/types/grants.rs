//! CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant.
