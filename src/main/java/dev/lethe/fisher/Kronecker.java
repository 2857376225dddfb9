package dev.lethe.fisher;

import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The Kronecker-factored part of a KFAC or EKFAC Fisher's header: its dense layers, where each
 * erasable parameter starts in the P flattened entries, and which parameters the header's blocks
 * cover instead. Immutable.
 *
 * <p>Stored per layer l under the Fisher's prefix, key {@code 'k' l(4 bytes BE) part}, float32
 * little-endian followed by a CRC32C of those bytes (4 bytes LE), each value written once:
 * {@link #Q_A} (c × c, row-major, eigenvectors in columns), {@link #Q_G} (out × out),
 * {@link #LAMBDA_A} (c), {@link #LAMBDA_G} (out); for EKFAC {@link #LAMBDA_E} (out × c, the
 * corrected eigenvalues); for KFAC {@link #A} and {@link #G} themselves (packed upper
 * triangles), which a downdate subtracts the erased samples' terms from.
 *
 * @param structure KFAC or EKFAC
 * @param offsets the first entry of each erasable parameter (spec order), P last
 * @param others indices of the parameters the blocks cover (spec order)
 * @param layers the dense layers
 */
public record Kronecker(FisherStructure structure, long[] offsets, int[] others,
    List<KroneckerLayer> layers) {
  public static final byte Q_A = 'A';
  public static final byte Q_G = 'G';
  public static final byte LAMBDA_A = 'a';
  public static final byte LAMBDA_G = 'g';
  public static final byte LAMBDA_E = 'E';
  public static final byte A = 'X';
  public static final byte G = 'Y';

  public Kronecker {
    if (!structure.kronecker()) {
      throw new IllegalArgumentException("structure " + structure + " is not Kronecker-factored");
    }
    layers = List.copyOf(layers);
  }

  /** The parts stored per layer for this structure. */
  byte[] parts() {
    return structure == FisherStructure.EKFAC
        ? new byte[] {Q_A, Q_G, LAMBDA_A, LAMBDA_G, LAMBDA_E}
        : new byte[] {Q_A, Q_G, LAMBDA_A, LAMBDA_G, A, G};
  }

  /** Floats of part {@code part} of {@code layer}. */
  static long floats(KroneckerLayer layer, byte part) {
    long c = layer.columns();
    long o = layer.out();
    return switch (part) {
      case Q_A -> c * c;
      case Q_G -> o * o;
      case LAMBDA_A -> c;
      case LAMBDA_G -> o;
      case LAMBDA_E -> o * c;
      case A -> c * (c + 1) / 2;
      case G -> o * (o + 1) / 2;
      default -> throw new IllegalArgumentException("unknown part " + part);
    };
  }

  /** Entries the blocks cover: the sizes of {@link #others()}. */
  long otherEntries() {
    long sum = 0;
    for (int i : others) {
      sum += offsets[i + 1] - offsets[i];
    }
    return sum;
  }

  /** Bytes of every stored part, checksums included. */
  public long storedBytes() {
    long sum = 0;
    for (KroneckerLayer l : layers) {
      for (byte part : parts()) {
        sum += floats(l, part) * Float.BYTES + Integer.BYTES;
      }
    }
    return sum;
  }

  /** The other parameters' entries of {@code v} (P doubles), concatenated in spec order. */
  double[] gatherOthers(double[] v) {
    double[] out = new double[(int) otherEntries()];
    int pos = 0;
    for (int i : others) {
      int len = (int) (offsets[i + 1] - offsets[i]);
      System.arraycopy(v, (int) offsets[i], out, pos, len);
      pos += len;
    }
    return out;
  }

  /** Writes {@link #gatherOthers}'s layout back into {@code v}. */
  void scatterOthers(double[] compact, double[] v) {
    int pos = 0;
    for (int i : others) {
      int len = (int) (offsets[i + 1] - offsets[i]);
      System.arraycopy(compact, pos, v, (int) offsets[i], len);
      pos += len;
    }
  }

  void encode(DataOutputStream out) throws IOException {
    out.writeByte(structure.ordinal());
    out.writeInt(offsets.length);
    for (long o : offsets) {
      out.writeLong(o);
    }
    out.writeInt(others.length);
    for (int i : others) {
      out.writeInt(i);
    }
    out.writeInt(layers.size());
    for (KroneckerLayer l : layers) {
      out.writeInt(l.weight());
      out.writeInt(l.bias());
      out.writeInt(l.out());
      out.writeInt(l.in());
      out.writeBoolean(l.outMajor());
      out.writeDouble(l.alpha());
      out.writeDouble(l.beta());
      out.writeInt(l.positions());
    }
  }

  static Kronecker decode(ByteBuffer in) {
    FisherStructure s = FisherStructure.values()[in.get()];
    long[] offsets = new long[in.getInt()];
    for (int i = 0; i < offsets.length; i++) {
      offsets[i] = in.getLong();
    }
    int[] others = new int[in.getInt()];
    for (int i = 0; i < others.length; i++) {
      others[i] = in.getInt();
    }
    int count = in.getInt();
    List<KroneckerLayer> layers = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      layers.add(new KroneckerLayer(in.getInt(), in.getInt(), in.getInt(), in.getInt(),
          in.get() != 0, in.getDouble(), in.getDouble(), in.getInt()));
    }
    return new Kronecker(s, offsets, others, layers);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Kronecker k && k.structure == structure && Arrays.equals(k.offsets, offsets)
        && Arrays.equals(k.others, others) && k.layers.equals(layers);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(offsets) * 31 + layers.hashCode();
  }
}
