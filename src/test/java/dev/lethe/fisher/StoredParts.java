package dev.lethe.fisher;

/** Tests outside this package read a stored Kronecker Fisher's parts (verified) through this. */
public final class StoredParts {
  private StoredParts() {}

  /** Part {@code part} ({@link Kronecker#A}, {@link Kronecker#LAMBDA_E}, ...) of layer {@code layer}. */
  public static double[] read(Fishers fishers, String model, String fisherId, int layer, byte part) {
    FisherHeader h = fishers.header(model, fisherId);
    return fishers.store().readPart(model, fisherId, h, layer, part);
  }

  /** The dense layers of a stored Kronecker Fisher (0 for a block-diagonal one). */
  public static int layers(Fishers fishers, String model, String fisherId) {
    Kronecker k = fishers.header(model, fisherId).kronecker();
    return k == null ? 0 : k.layers().size();
  }
}
