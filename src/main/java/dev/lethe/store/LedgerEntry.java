package dev.lethe.store;

/**
 * One event of the erasure ledger.
 *
 * @param idKey hex HMAC-SHA256 of the sample id under the ledger secret, or (when
 *     {@code keyed} is false, entries from before keyed ids) its plain SHA-256; the id itself is
 *     never stored
 * @param keyed whether {@code idKey} is keyed
 * @param version the version the event concerns (the erase version, or the version activated by
 *     a rollback)
 * @param event "erase" or "unerase"
 */
public record LedgerEntry(String idKey, boolean keyed, long version, String requestId, long unixMs,
    String event) {}
