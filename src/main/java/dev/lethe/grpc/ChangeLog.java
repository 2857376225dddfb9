package dev.lethe.grpc;

import dev.lethe.api.v1.ModelInfo;
import dev.lethe.core.EraseOutcome;
import dev.lethe.fisher.FisherProgress;
import dev.lethe.store.ModelDeletion;
import java.util.List;
import java.util.Locale;
import java.util.logging.Logger;

/**
 * The server log's one INFO line per state change (upload, activation, scale or spec change,
 * Fisher built, erase, delete): model, version, counts, timings and request id — never sample
 * ids or data. Stateless; thread-safe (java.util.logging is).
 */
final class ChangeLog {
  private static final Logger LOG = Logger.getLogger("dev.lethe.changes");

  private ChangeLog() {}

  static void uploaded(ModelInfo m) {
    info("put-model %s version %d: train_size %d, %d erasable parameters, %d kept versions",
        m.getName(), m.getActiveVersion(), m.getTrainSize(), m.getParameterCount(),
        m.getVersionsCount());
  }

  static void activated(ModelInfo m, boolean allowUnerase) {
    info("activate %s version %d (train_size %d%s)", m.getName(), m.getActiveVersion(),
        m.getTrainSize(), allowUnerase ? ", allow_unerase" : "");
  }

  static void scaleSet(ModelInfo m) {
    info("set-scale %s: scale %s", m.getName(), m.getSpec().getScale());
  }

  static void specUpdated(ModelInfo m, List<String> fields) {
    info("update-spec %s: %s", m.getName(), String.join(",", fields));
  }

  static void deleted(ModelDeletion.Deleted d) {
    info("delete-model %s: %d versions and %d Fishers deleted, %d ledger events kept", d.name(),
        d.versions(), d.fishers(), d.ledgerEntriesKept());
  }

  static void fisherBuilt(String model, FisherProgress.Summary s) {
    info("build-fisher %s version %d: %s %s %s (%s), %d samples, %d blocks, %.1f MB, %d pass(es), %.1f s",
        model, s.version(), s.structure().id(), s.kind(), s.method().id(), s.structureReason(),
        s.samples(), s.blocks(), s.bytes() / 1e6, s.passes(), s.buildSeconds());
  }

  static void erased(String model, String requestId, boolean dryRun, boolean downdate,
      EraseOutcome o) {
    EraseOutcome.Timings t = o.timings();
    info("erase %s%s -> version %d: k %d (%d already erased), update norm %.4g%s, request %s, "
            + "gradients %.1f ms, solve %.1f ms, store %.1f ms, swap %.1f ms",
        model, dryRun ? " (dry run)" : "", o.version(), o.erased(), o.alreadyErased().size(),
        o.updateNorm(), downdate ? ", Fisher downdated" : "",
        requestId.isEmpty() ? "-" : "'" + dev.lethe.core.Messages.quote(requestId) + "'",
        t.gradientsMs(), t.solveMs(), t.storeMs(), t.swapMs());
  }

  private static void info(String format, Object... args) {
    LOG.info(String.format(Locale.ROOT, format, args));
  }
}
