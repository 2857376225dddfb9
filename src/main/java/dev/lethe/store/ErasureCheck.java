package dev.lethe.store;

/**
 * The answer to "is this id erased?" for one id (CheckErasure): the data subject's proof.
 *
 * @param id the id asked about, as given
 * @param erased whether an erase in the active version's lineage removed it
 * @param version the version that erase created (0 when not erased)
 * @param requestId that erase's request id ("" when none or not erased)
 * @param unixMs when that erase was committed (0 when not erased)
 * @param lastEvent the id's latest ledger event, "erase" or "unerase" ("" for none: never erased)
 */
public record ErasureCheck(String id, boolean erased, long version, String requestId, long unixMs,
    String lastEvent) {}
