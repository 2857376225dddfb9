package dev.lethe.store;

import dev.lethe.core.LossFunction;
import dev.lethe.core.ModelFormat;
import dev.lethe.core.Samples;
import dev.lethe.onnx.GradientResult;
import dev.lethe.onnx.InputSpec;
import dev.lethe.onnx.ParameterSpec;
import dev.lethe.storage.Family;
import dev.lethe.storage.Keys;
import dev.lethe.storage.LetheDb;
import dev.lethe.storage.StorageException;
import dev.lethe.storage.records.ModelRecord;
import dev.lethe.torch.TorchGradients;
import dev.lethe.torch.TorchModule;
import java.io.InputStream;
import java.util.List;

/**
 * The TorchScript format's {@link ModelBackend}: PyTorch autograd through DJL
 * ({@link TorchGradients}) over the module loaded once from the stored archive (the upload as it
 * came); each call sets the erasable parameters to the call's weights. A version's file is the
 * archive with the parameters' storages replaced by the version's values ({@link TorchFiles}).
 *
 * <p>Thread-safe (calls on the module are serialised); owns the module and frees it in
 * {@link #close()}.
 */
final class TorchBackend implements ModelBackend {
  private final String name;
  private final LetheDb db;
  private final List<String> inputs;
  private final List<String> erasable;
  private final String logits;
  private final LossFunction loss;
  private TorchGradients gradients;
  private boolean closed;

  TorchBackend(ModelRecord record, LetheDb db) {
    this.name = record.getName();
    this.db = db;
    this.inputs = Records.inputs(record).stream().map(InputSpec::name).toList();
    this.erasable = Records.parameters(record).stream().map(ParameterSpec::name).toList();
    this.logits = record.getLogitsOutput();
    this.loss = LossFunction.valueOf(record.getLoss());
  }

  @Override
  public ModelFormat format() {
    return ModelFormat.TORCHSCRIPT;
  }

  /** Adopts the module's gradients made at registration. */
  synchronized void adopt(TorchGradients made) {
    if (closed || gradients != null) {
      made.close();
    } else {
      gradients = made;
    }
  }

  @Override
  public float[] logits(Samples checked, VersionWeights w) {
    return torch().logits(checked, w.parameters(), w).values();
  }

  @Override
  public GradientResult gradients(Samples checked, VersionWeights w, LossFunction loss, double l2,
      boolean full) {
    return torch().compute(checked, w.parameters(), w, l2, full);
  }

  @Override
  public GradientResult cotangentGradients(Samples checked, VersionWeights w, LossFunction loss,
      double l2, float[] cotangent) {
    return torch().cotangent(checked, w.parameters(), w, cotangent);
  }

  @Override
  public void warm(VersionWeights w, LossFunction loss, double l2) {
    torch();
  }

  @Override
  public synchronized boolean warmed() {
    return gradients != null;
  }

  @Override
  public InputStream compose(VersionWeights w) {
    return TorchFiles.compose(archive(), erasable, w);
  }

  private byte[] archive() {
    byte[] archive = db.readBlob(Family.GRAPHS, Keys.modelPrefix(name));
    if (archive == null) {
      throw new StorageException("model " + name + ": TorchScript archive is missing from the store");
    }
    return archive;
  }

  private synchronized TorchGradients torch() {
    if (closed) {
      throw new IllegalStateException("model " + name + " runtime is closed");
    }
    if (gradients == null) {
      gradients = new TorchGradients(TorchModule.load(archive()), inputs, erasable, logits, loss);
    }
    return gradients;
  }

  @Override
  public synchronized void close() {
    closed = true;
    if (gradients != null) {
      gradients.close();
      gradients = null;
    }
  }
}
