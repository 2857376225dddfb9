package dev.lethe.demo;

import org.ejml.data.DMatrixRMaj;

/**
 * A twice-differentiable function of a parameter vector of fixed length, as {@link NewtonMethod}
 * needs it. Implementations must not modify {@code theta}; each call returns fresh arrays the
 * caller owns.
 */
public interface SmoothObjective {
  /** Length of the parameter vector. */
  int dimension();

  double value(double[] theta);

  double[] gradient(double[] theta);

  /** The Hessian, symmetric [dimension, dimension]. */
  DMatrixRMaj hessian(double[] theta);
}
